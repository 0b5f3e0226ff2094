from mlinfra.emulator import boto3_session, client_env


def test_client_env_points_terraform_and_sdks_at_the_endpoint():
    env = client_env("http://127.0.0.1:1234")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1234"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_PROFILE"] == ""  # a user's real profile must not leak into local runs


def test_boto3_session_clients_use_the_endpoint():
    client = boto3_session("http://127.0.0.1:1234").client("ecs")
    assert client.meta.endpoint_url == "http://127.0.0.1:1234"
    assert client.meta.region_name == "us-east-1"
