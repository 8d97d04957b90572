import pytest

from groundlm.models.config import VLMConfig
from groundlm.models.vlm import GroundedVLM

from ..conftest import tiny_language, tiny_vision


def tiny_config(vision="vit", language="llama", **kw) -> VLMConfig:
    return VLMConfig(
        vision=tiny_vision(kind=vision),
        language=tiny_language(kind=language, max_positions=128),
        **kw,
    )


@pytest.fixture
def tiny_model():
    import torch

    torch.manual_seed(0)
    return GroundedVLM(tiny_config()).eval()
