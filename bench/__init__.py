"""Benchmarks that print ratios; never run as tests. Run each from the project root as a module
(``python -m bench.serving``, or ``task bench:serving``) so that ``bench.support`` and
``tests.support`` import."""
