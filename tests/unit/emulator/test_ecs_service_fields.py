from mlinfra.emulator.patches import ecs_service_fields
from mlinfra.emulator.testing import in_process

SETTINGS = {
    "desiredCount": 2,
    "healthCheckGracePeriodSeconds": 45,
    "enableECSManagedTags": True,
    "enableExecuteCommand": False,
    "availabilityZoneRebalancing": "DISABLED",
    "capacityProviderStrategy": [{"capacityProvider": "cp", "weight": 1, "base": 0}],
    "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
    "deploymentConfiguration": {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    },
}


def _described(aws, bridge_service, *patches):
    with in_process(*patches) as endpoint:
        ecs = aws(endpoint, "ecs")
        ecs.create_capacity_provider(
            name="cp",
            autoScalingGroupProvider={"autoScalingGroupArn": "arn:aws:autoscaling:us-east-1:1:x"},
        )
        bridge_service(ecs, **SETTINGS)
        return ecs.describe_services(cluster="c", services=["s"])["services"][0]


def test_moto_alone_drops_create_service_settings(aws, bridge_service):
    described = _described(aws, bridge_service)
    assert "healthCheckGracePeriodSeconds" not in described
    assert "capacityProviderStrategy" not in described


def test_create_service_settings_are_returned(aws, bridge_service):
    described = _described(aws, bridge_service, ecs_service_fields)
    for field, value in SETTINGS.items():
        assert described[field] == value, field
