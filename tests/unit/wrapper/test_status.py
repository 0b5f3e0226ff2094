"""``status``'s summaries and reader, on recorded ECS and ELBv2 answers."""

from __future__ import annotations

from typing import Any

from aws_answers import answer, stubbed

from mlinfra import status
from mlinfra.probes import Probe
from mlinfra.runtime import Reach

TARGET_GROUP = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mlinfra-prod/73e2d6bc24d8a067"
)
LOAD_BALANCER = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/mlinfra-prod/"
    "50dc6c495c0c9188"
)
V8 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mlinfra-prod:8"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlinfra-prod:a1b2c3d-5e6f7a8b"
OUTPUTS = {
    "cluster_name": "mlinfra-prod",
    "service_name": "mlinfra-prod",
    "target_group_arn": TARGET_GROUP,
    "service_url": "https://ml.example.com",
}


def test_the_service_summary_names_the_revision_not_the_arn() -> None:
    service = answer("ecs", "rolling")["services"][0]
    definition = answer("ecs", "task_definition_v8")["taskDefinition"]
    assert status.service_summary(service, definition, "mlinfra-prod") == {
        "name": "mlinfra-prod",
        "cluster": "mlinfra-prod",
        "desired": 2,
        "running": 3,
        "pending": 1,
        "rollout_state": "IN_PROGRESS",
        "task_definition": "mlinfra-prod:8",
    }
    assert status.service_image(definition) == IMAGE
    assert status.service_image({"containerDefinitions": []}) is None


def test_each_target_keeps_its_state_and_reason() -> None:
    targets = status.target_summaries(answer("elbv2", "target_health"))
    assert targets == [
        {"id": "i-0f76fade435676abd", "port": 32768, "state": "healthy", "reason": None},
        {
            "id": "i-0f76fade435676abd",
            "port": 32771,
            "state": "unhealthy",
            "reason": "Target.ResponseCodeMismatch",
        },
        {
            "id": "i-0a1b2c3d4e5f60718",
            "port": 32769,
            "state": "draining",
            "reason": "Target.DeregistrationInProgress",
        },
    ]
    listeners = status.listener_summaries(answer("elbv2", "listeners")["Listeners"])
    assert listeners == [{"port": 443, "protocol": "HTTPS"}, {"port": 80, "protocol": "HTTP"}]


class _Session:
    """What ``status.read`` asks of a boto3 session: its clients (here, stubbed ones)."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients

    def client(self, name: str) -> Any:
        return self.clients[name]


def test_read_asks_ecs_and_the_alb_and_probes_the_url() -> None:
    ecs, ecs_stub = stubbed("ecs")
    elbv2, elbv2_stub = stubbed("elbv2")
    ecs_stub.add_response(
        "describe_services",
        answer("ecs", "completed"),
        {"cluster": "mlinfra-prod", "services": ["mlinfra-prod"]},
    )
    ecs_stub.add_response(
        "describe_task_definition", answer("ecs", "task_definition_v8"), {"taskDefinition": V8}
    )
    elbv2_stub.add_response(
        "describe_target_groups",
        answer("elbv2", "target_groups"),
        {"TargetGroupArns": [TARGET_GROUP]},
    )
    elbv2_stub.add_response(
        "describe_listeners", answer("elbv2", "listeners"), {"LoadBalancerArn": LOAD_BALANCER}
    )
    elbv2_stub.add_response(
        "describe_target_health", answer("elbv2", "target_health"), {"TargetGroupArn": TARGET_GROUP}
    )
    probed: list[str] = []

    def probe(url: str, ca_file: str | None) -> list[Probe]:
        probed.append(f"{url} {ca_file}")
        return [Probe("/health", True, 200, 3.0), Probe("/ready", False, 503, 2.0)]

    session: Any = _Session({"ecs": ecs, "elbv2": elbv2})
    with ecs_stub, elbv2_stub:
        reach = Reach("https://ml.example.com", "/state/tls/ca.pem", ("taskRoleArn",))
        report = status.read("prod", session, OUTPUTS, reach, probe)
    assert probed == ["https://ml.example.com /state/tls/ca.pem"], "probed trusting the CA"
    assert report.ca_file == "/state/tls/ca.pem"
    assert report.to_dict()["unhonoured"] == ["taskRoleArn"]
    assert report.deployed
    assert not report.healthy  # /ready answered 503
    assert report.image == IMAGE
    assert report.service["task_definition"] == "mlinfra-prod:8"
    assert [t["state"] for t in report.targets] == ["healthy", "unhealthy", "draining"]
    assert report.to_dict()["listeners"] == [
        {"port": 443, "protocol": "HTTPS"},
        {"port": 80, "protocol": "HTTP"},
    ]


def test_no_service_output_is_nothing_deployed_and_asks_nothing() -> None:
    session: Any = _Session({})
    report = status.read("prod", session, {}, Reach(None))
    assert (report.deployed, report.healthy, report.url) == (False, False, None)
