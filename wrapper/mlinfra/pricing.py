"""What a million predictions cost: an instance type's hourly price (a table shipped with the
project, with its date; ``--prices FILE`` or ``MLINFRA_PRICES`` replaces it), the share of an
instance one task reserves, and the rate ``mlinfra bench`` measured.

Pure functions of their arguments: tested in tests/unit/wrapper/test_pricing.py.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlinfra.errors import ConfigError

PRICES_ENV = "MLINFRA_PRICES"
SHIPPED_PRICES = Path(__file__).with_name("prices.json")
# ECS counts 1,024 CPU units per vCPU.
CPU_UNITS_PER_VCPU = 1024


@dataclass(frozen=True)
class InstancePrice:
    hourly: float
    vcpu: int
    memory_gib: float


@dataclass(frozen=True)
class PriceTable:
    date: str
    currency: str
    source: str
    instances: dict[str, InstancePrice]
    path: str

    def price_of(self, instance_type: str) -> InstancePrice | None:
        return self.instances.get(instance_type)


def _fix(path: str) -> str:
    return (
        f"Give a JSON file shaped like {SHIPPED_PRICES.name} in the mlinfra package "
        '({"date": "YYYY-MM-DD", "currency": "USD", "instances": {"t3.small": '
        '{"hourly": 0.0208, "vcpu": 2, "memory_gib": 2}}}) '
        f"with --prices or {PRICES_ENV}; not {path}."
    )


def parse_prices(text: str, path: str) -> PriceTable:
    """A price table from its JSON text; a ConfigError naming what is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"The price table {path} is not JSON ({err}).", _fix(path)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("instances"), dict):
        raise ConfigError(f"The price table {path} has no 'instances' object.", _fix(path))
    if not isinstance(raw.get("date"), str) or not raw["date"]:
        raise ConfigError(
            f"The price table {path} has no 'date': a price without its date cannot be trusted.",
            _fix(path),
        )
    instances: dict[str, InstancePrice] = {}
    for name, entry in raw["instances"].items():
        try:
            price = InstancePrice(
                hourly=float(entry["hourly"]),
                vcpu=int(entry["vcpu"]),
                memory_gib=float(entry["memory_gib"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ConfigError(
                f"The price table {path}: {name!r} needs numbers 'hourly', 'vcpu' and"
                f" 'memory_gib', not {entry!r}.",
                _fix(path),
            ) from None
        if price.hourly < 0 or price.vcpu < 1 or price.memory_gib <= 0:
            raise ConfigError(
                f"The price table {path}: {name!r} has a negative price or no CPU or memory.",
                _fix(path),
            )
        instances[name] = price
    return PriceTable(
        date=raw["date"],
        currency=str(raw.get("currency", "USD")),
        source=str(raw.get("source", "")),
        instances=instances,
        path=path,
    )


def load_prices(override: Path | None = None) -> PriceTable:
    """``override``, else ``$MLINFRA_PRICES``, else the table shipped with mlinfra."""
    chosen = override or (Path(os.environ[PRICES_ENV]) if os.environ.get(PRICES_ENV) else None)
    path = chosen or SHIPPED_PRICES
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(
            f"Cannot read the price table {path} ({err.strerror}).", _fix(str(path))
        ) from None
    return parse_prices(text, str(path))


def task_share(price: InstancePrice, task_cpu_units: int, task_memory_mib: int) -> float:
    """The share of one instance a task reserves: the larger of its CPU and memory shares (ECS
    places no other task where either is used up), at most the whole instance."""
    cpu = task_cpu_units / (price.vcpu * CPU_UNITS_PER_VCPU)
    memory = task_memory_mib / (price.memory_gib * 1024)
    return min(1.0, max(cpu, memory))


@dataclass(frozen=True)
class Cost:
    """The cost of a million predictions (requests, and rows when batches were measured)."""

    instance_type: str
    hourly: float
    task_share: float
    tasks: int
    service_hourly: float
    per_million_requests: float | None
    per_million_rows: float | None
    currency: str
    prices_date: str
    prices_path: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def per_million(service_hourly: float, rate_per_s: float) -> float | None:
    """What a million at ``rate_per_s`` costs when the service costs ``service_hourly``."""
    if rate_per_s <= 0:
        return None
    return service_hourly / (rate_per_s * 3600) * 1e6


def cost(
    table: PriceTable,
    instance_type: str,
    task_cpu_units: int,
    task_memory_mib: int,
    tasks: int,
    requests_per_s: float,
    rows_per_s: float | None,
) -> Cost | None:
    """The cost at the measured rates of ``tasks`` tasks of that size; None when the table has
    no price for ``instance_type``."""
    price = table.price_of(instance_type)
    if price is None:
        return None
    share = task_share(price, task_cpu_units, task_memory_mib)
    service_hourly = price.hourly * share * max(1, tasks)
    return Cost(
        instance_type=instance_type,
        hourly=price.hourly,
        task_share=share,
        tasks=max(1, tasks),
        service_hourly=service_hourly,
        per_million_requests=per_million(service_hourly, requests_per_s),
        per_million_rows=per_million(service_hourly, rows_per_s) if rows_per_s else None,
        currency=table.currency,
        prices_date=table.date,
        prices_path=table.path,
    )
