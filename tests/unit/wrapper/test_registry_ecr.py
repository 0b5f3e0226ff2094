"""ECR's side of a push, on recorded answers: the login token and the release tags."""

from __future__ import annotations

import pytest
from aws_answers import answer, stubbed

from mlinfra import registry
from mlinfra.errors import RegistryError

REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlinfra-prod"


def test_the_login_token_becomes_docker_credentials_for_the_registry_host() -> None:
    ecr, stub = stubbed("ecr")
    stub.add_response("get_authorization_token", answer("ecr", "authorization_token"), {})
    with stub:
        credentials = registry.ecr_credentials(REPOSITORY, ecr)
    assert credentials.server == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert credentials.username == "AWS"
    assert credentials.password == "eyJwYXlsb2FkIjoiY29uZmlkZW50aWFsIn0"


def test_a_refused_token_names_the_registry_and_the_fix() -> None:
    ecr, stub = stubbed("ecr")
    stub.add_client_error(
        "get_authorization_token",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: ecr:GetAuthorizationToken",
    )
    with stub, pytest.raises(RegistryError) as raised:
        registry.ecr_credentials(REPOSITORY, ecr)
    assert "123456789012.dkr.ecr.eu-west-1.amazonaws.com" in raised.value.message
    assert "aws sts get-caller-identity" in (raised.value.hint or "")


def test_release_tags_come_from_every_page_and_only_release_numbers_count() -> None:
    ecr, stub = stubbed("ecr")
    params = {"repositoryName": "mlinfra-prod", "filter": {"tagStatus": "TAGGED"}}
    stub.add_response("list_images", answer("ecr", "images_page_1"), params)
    stub.add_response(
        "list_images", answer("ecr", "images_page_2"), {**params, "nextToken": "page-2"}
    )
    with stub:
        tags = registry.ecr_release_tags(ecr, "mlinfra-prod")
    assert tags == {
        "release-1": "sha256:" + "1" * 64,
        "release-2": "sha256:" + "2" * 64,
        "release-10": "sha256:" + "3" * 64,
    }
    # The next release counts numbers, not strings: 11 after release-10 (not release-3).
    assert registry.next_release(tags) == 11
