from pathlib import Path

import pytest
from falcon import testing

from mlinfra.training import train
from mlinfra_serving.app import create_app
from mlinfra_serving.config import Settings
from mlinfra_serving.predictor import Predictor


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("model")
    train(directory)
    return directory


@pytest.fixture(scope="session")
def predictor(model_dir: Path) -> Predictor:
    return Predictor.load(model_dir)


@pytest.fixture
def client(predictor: Predictor, model_dir: Path) -> testing.TestClient:
    settings = Settings(model_dir=model_dir, max_batch_rows=5, max_body_bytes=2048)
    return testing.TestClient(create_app(predictor, settings))
