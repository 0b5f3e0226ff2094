"""A retried invocation gets its first attempt's answer; a new invocation is carried out."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import botocore.exceptions
import pytest

from mlinfra.emulator.retries import (
    INVOCATION_KEY,
    REPLAYED_KEY,
    AnswerCache,
    with_replayed_retries,
)
from mlinfra.emulator.testing import in_process


def _as_attempt(client: Any, operation: str, invocation: str, attempt: int) -> None:
    """Send the client's next ``operation`` as attempt ``attempt`` of ``invocation`` (what an
    SDK sends again when it lost the answer to the first)."""

    def rewrite(request: Any, **_: Any) -> None:
        request.headers["amz-sdk-invocation-id"] = invocation
        request.headers["amz-sdk-request"] = f"attempt={attempt}; max=25"

    client.meta.events.register_first(f"before-send.ec2.{operation}", rewrite, unique_id="as")


def _route_table(ec2: Any) -> dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    return {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": gateway}


def _default_routes(ec2: Any, table: str) -> list[dict[str, Any]]:
    (found,) = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
    return [r for r in found["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]


def test_a_create_route_sent_again_after_its_answer_was_lost_gets_that_answer(aws) -> None:
    with in_process() as endpoint:
        ec2 = aws(endpoint, "ec2")
        route = _route_table(ec2)
        invocation = str(uuid.uuid4())
        _as_attempt(ec2, "CreateRoute", invocation, 1)
        first = ec2.create_route(**route)
        _as_attempt(ec2, "CreateRoute", invocation, 2)
        again = ec2.create_route(**route)  # without the replay: RouteAlreadyExists
        routes = _default_routes(ec2, route["RouteTableId"])
    assert first["Return"] is again["Return"] is True
    assert first["ResponseMetadata"]["RequestId"] == again["ResponseMetadata"]["RequestId"]
    assert len(routes) == 1


def test_a_new_invocation_of_the_same_route_is_still_a_duplicate(aws) -> None:
    with in_process() as endpoint:
        ec2 = aws(endpoint, "ec2")
        route = _route_table(ec2)
        ec2.create_route(**route)
        with pytest.raises(botocore.exceptions.ClientError, match="RouteAlreadyExists"):
            ec2.create_route(**route)


def test_an_attempt_after_a_failed_one_is_carried_out(aws) -> None:
    with in_process() as endpoint:
        ec2 = aws(endpoint, "ec2")
        route = _route_table(ec2)
        ec2.create_route(**route)
        invocation = str(uuid.uuid4())
        _as_attempt(ec2, "CreateRoute", invocation, 1)
        with pytest.raises(botocore.exceptions.ClientError, match="RouteAlreadyExists"):
            ec2.create_route(**route)
        ec2.delete_route(RouteTableId=route["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")
        _as_attempt(ec2, "CreateRoute", invocation, 2)
        ec2.create_route(**route)
        assert len(_default_routes(ec2, route["RouteTableId"])) == 1


def _counting_app(delay_s: float = 0.0) -> tuple[Callable[..., Iterable[bytes]], list[int]]:
    calls: list[int] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        calls.append(1)
        time.sleep(delay_s)
        body = f"answer {len(calls)}".encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    return app, calls


def _call(app: Callable[..., Iterable[bytes]], invocation: str, method: str = "POST") -> bytes:
    environ = {"REQUEST_METHOD": method, INVOCATION_KEY: invocation}
    return b"".join(app(environ, lambda status, headers, exc_info=None: None))


def test_a_retry_that_comes_while_the_first_attempt_is_served_waits_for_its_answer() -> None:
    inner, calls = _counting_app(delay_s=0.3)
    app = with_replayed_retries(inner)
    answers: list[bytes] = []
    first = threading.Thread(target=lambda: answers.append(_call(app, "inv-1")))
    first.start()
    time.sleep(0.1)
    answers.append(_call(app, "inv-1"))
    first.join()
    assert answers == [b"answer 1", b"answer 1"]
    assert len(calls) == 1


def test_reads_and_calls_without_an_invocation_id_are_always_carried_out() -> None:
    inner, calls = _counting_app()
    app = with_replayed_retries(inner)
    assert _call(app, "inv-2", method="GET") == b"answer 1"
    assert _call(app, "inv-2", method="GET") == b"answer 2"
    assert _call(app, "") == b"answer 3"
    assert _call(app, "") == b"answer 4"
    assert len(calls) == 4


def test_the_replay_is_marked_for_the_log_and_the_cache_is_bounded() -> None:
    inner, calls = _counting_app()
    cache = AnswerCache(max_kept=2)
    app = with_replayed_retries(inner, cache)
    environ = {"REQUEST_METHOD": "POST", INVOCATION_KEY: "inv-a"}
    b"".join(app(dict(environ), lambda *_: None))
    replayed = dict(environ)
    b"".join(app(replayed, lambda *_: None))
    assert replayed[REPLAYED_KEY] is True
    for invocation in ("inv-b", "inv-c"):
        _call(app, invocation)
    assert len(cache) == 2
    assert _call(app, "inv-a") == b"answer 4"  # forgotten: carried out again
    assert len(calls) == 4
