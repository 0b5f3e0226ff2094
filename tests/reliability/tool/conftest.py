"""Fixtures of the tool's reliability tests (marker ``integration``).

Their helpers (tool_support.py) sit beside them: pytest puts this folder on ``sys.path`` for
its test modules (rootdir-relative imports), so they import it by name.
"""
