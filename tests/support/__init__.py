"""Helpers shared by more than one test suite and by bench/, imported as ``tests.support.<name>``
(pytest puts the project root on ``sys.path``: ``pythonpath`` in pyproject.toml; the benchmarks
run as ``python -m bench.<name>`` from the root).

- ``serving``: the serving image built once per session (fixtures) and containers run from it
  as ECS runs them; the guide's example request.
- ``reliability``: a service started read-only and waited for; gunicorn's JSON logs read back.

The one wrk driver is :mod:`mlinfra.wrk` (``mlinfra bench`` ships it; the tests and bench/
import it from there).

Helpers only one folder uses stay beside its tests (``e2e_support.py``,
``local_runtime_support.py``, ``terraform_harness.py``...): pytest imports them by name from there.
"""
