import pytest

from groundlm.models.config import LanguageConfig, VisionConfig, VLMConfig
from groundlm.models.vlm import GroundedVLM


def tiny_config(vision="vit", language="llama", **kw) -> VLMConfig:
    return VLMConfig(
        vision=VisionConfig(
            kind=vision, image_size=32, patch_size=8, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64
        ),
        language=LanguageConfig(
            kind=language, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, max_positions=128
        ),
        **kw,
    )


@pytest.fixture
def tiny_model():
    import torch

    torch.manual_seed(0)
    return GroundedVLM(tiny_config()).eval()
