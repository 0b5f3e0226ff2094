"""The local environment applied against its own emulator (see environment_checks)."""

import pytest
from environment_checks import EnvironmentChecks, applied_fixture

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

applied = applied_fixture("local")


class TestLocalEnvironment(EnvironmentChecks):
    pass
