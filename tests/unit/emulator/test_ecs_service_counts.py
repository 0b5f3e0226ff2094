import httpx
import pytest

from mlinfra.emulator import set_service_counts
from mlinfra.emulator.patches import ecs_service_counts
from mlinfra.emulator.testing import in_process
from mlinfra.errors import EmulatorError

# The control route serves the default account; these tests use it on a cluster of their own.
CLUSTER = "counts"


@pytest.fixture
def ecs_default():
    from mlinfra.emulator import boto3_session

    def client(endpoint):
        return boto3_session(endpoint).client("ecs")

    return client


def _revision(ecs):
    return ecs.register_task_definition(
        family="app",
        networkMode="bridge",
        containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
    )["taskDefinition"]["taskDefinitionArn"]


def _service(ecs, desired=2):
    ecs.create_cluster(clusterName=CLUSTER)
    arn = _revision(ecs)
    ecs.create_service(cluster=CLUSTER, serviceName="s", taskDefinition=arn, desiredCount=desired)
    return arn


def _described(ecs):
    return ecs.describe_services(cluster=CLUSTER, services=["s"])["services"][0]


def test_moto_alone_pretends_every_task_runs_after_an_update(ecs_default):
    with in_process() as endpoint:
        ecs = ecs_default(endpoint)
        _service(ecs, desired=1)
        ecs.update_service(cluster=CLUSTER, service="s", desiredCount=3)
        assert _described(ecs)["runningCount"] == 3


def test_reported_counts_complete_the_rollout(ecs_default):
    with in_process(ecs_service_counts) as endpoint:
        ecs = ecs_default(endpoint)
        _service(ecs, desired=2)
        assert _described(ecs)["deployments"][0]["rolloutState"] == "IN_PROGRESS"
        state = set_service_counts(endpoint, CLUSTER, "s", running=1, pending=1)
        assert state["rolloutState"] == "IN_PROGRESS"
        set_service_counts(endpoint, CLUSTER, "s", running=2, pending=0)
        described = _described(ecs)
    assert (described["runningCount"], described["pendingCount"]) == (2, 0)
    assert described["deployments"][0]["rolloutState"] == "COMPLETED"


def test_new_task_definition_opens_a_deployment_until_it_runs(ecs_default):
    with in_process(ecs_service_counts) as endpoint:
        ecs = ecs_default(endpoint)
        _service(ecs, desired=1)
        cluster_arn = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]["clusterArn"]
        set_service_counts(endpoint, cluster_arn, "s", running=1, pending=0)
        new = _revision(ecs)
        ecs.update_service(cluster=CLUSTER, service="s", taskDefinition=new, desiredCount=1)
        rolling = _described(ecs)
        set_service_counts(endpoint, CLUSTER, "s", running=0, pending=1)
        set_service_counts(endpoint, CLUSTER, "s", running=1, pending=0)
        done = _described(ecs)
    assert [d["status"] for d in rolling["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert rolling["deployments"][0]["taskDefinition"] == new
    assert rolling["runningCount"] == 1  # the old task, not a pretended new one
    assert [d["status"] for d in done["deployments"]] == ["PRIMARY"]
    assert done["deployments"][0]["rolloutState"] == "COMPLETED"


def test_unknown_service_is_a_clear_error(ecs_default):
    with in_process(ecs_service_counts) as endpoint:
        ecs_default(endpoint).create_cluster(clusterName=CLUSTER)
        with pytest.raises(EmulatorError, match="HTTP 404"):
            set_service_counts(endpoint, CLUSTER, "missing", running=1, pending=0)


def test_negative_count_is_rejected(ecs_default):
    with in_process(ecs_service_counts) as endpoint:
        body = {"cluster": CLUSTER, "service": "s", "runningCount": -1, "pendingCount": 0}
        response = httpx.post(endpoint + "/_mlinfra/ecs/service-counts", json=body)
    assert response.status_code == 400
    assert "runningCount" in response.json()["error"]
