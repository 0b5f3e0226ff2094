import botocore.exceptions
import pytest

from mlinfra.emulator.patches import appautoscaling_tags, ecs_service_fields
from mlinfra.emulator.testing import in_process

TARGET = {
    "ServiceNamespace": "ecs",
    "ResourceId": "service/c/s",
    "ScalableDimension": "ecs:service:DesiredCount",
    "MinCapacity": 2,
    "MaxCapacity": 10,
}


def _register(aws, bridge_service, endpoint):
    bridge_service(aws(endpoint, "ecs"), desiredCount=2)
    scaling = aws(endpoint, "application-autoscaling")
    arn = scaling.register_scalable_target(**TARGET, Tags={"env": "prod"})["ScalableTargetARN"]
    return scaling, arn


def test_moto_alone_cannot_list_tags(aws, bridge_service):
    with in_process(ecs_service_fields) as endpoint:
        scaling, arn = _register(aws, bridge_service, endpoint)
        with pytest.raises(botocore.exceptions.ClientError):
            scaling.list_tags_for_resource(ResourceARN=arn)


def test_tags_given_at_registration_are_listed(aws, bridge_service):
    with in_process(appautoscaling_tags) as endpoint:
        scaling, arn = _register(aws, bridge_service, endpoint)
        assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "prod"}


def test_tag_and_untag(aws, bridge_service):
    with in_process(appautoscaling_tags) as endpoint:
        scaling, arn = _register(aws, bridge_service, endpoint)
        scaling.tag_resource(ResourceARN=arn, Tags={"team": "ml"})
        scaling.untag_resource(ResourceARN=arn, TagKeys=["env"])
        assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "ml"}


def test_unknown_or_deregistered_target_is_not_found(aws, bridge_service):
    with in_process(appautoscaling_tags) as endpoint:
        scaling, arn = _register(aws, bridge_service, endpoint)
        scaling.deregister_scalable_target(
            **{k: TARGET[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension")}
        )
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            scaling.list_tags_for_resource(ResourceARN=arn)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
