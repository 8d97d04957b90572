import pytest
import torch

from groundlm.inference.model import GroundedModel
from groundlm.models.vlm import GroundedVLM
from groundlm.serve import ModelService, UploadLimits, create_app, running_server
from groundlm.serve.samples import built_in_samples

from ..models.conftest import tiny_config

LIMITS = UploadLimits(max_bytes=200_000, max_side=1024, max_pixels=600_000)


@pytest.fixture(scope="package")
def service() -> ModelService:
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config()).eval()
    trained = {"refer": {"format": "cogvlm", "query_first": True}, "pose": {}, "region_caption": {}}
    return ModelService(GroundedModel.of(model, trained), "tiny")


@pytest.fixture(scope="package")
def server(service):
    """A real server on 127.0.0.1 with a tiny random-weight model; yields (base URL, app)."""
    app = create_app(service, LIMITS, max_batch=8, wait_ms=20, samples=built_in_samples(size=48))
    with running_server(app) as url:
        yield url, app
