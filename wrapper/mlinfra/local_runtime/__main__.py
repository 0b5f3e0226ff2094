"""``python -m mlinfra.local_runtime``: the environment's agent (:mod:`._agent`), as
``converge`` starts it."""

from mlinfra.local_runtime._agent import main

raise SystemExit(main())
