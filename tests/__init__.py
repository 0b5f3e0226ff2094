"""mlinfra's tests: unit/, integration/, e2e/ and reliability/ mirror the code; support/ holds
what more than one of them (and bench/) uses, imported as ``tests.support``."""
