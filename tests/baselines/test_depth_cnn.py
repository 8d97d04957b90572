import numpy as np
import pytest
import torch

from groundlm.baselines.depth_cnn import DepthCNN, DepthCNNConfig, MeanDepthMap
from groundlm.data.sample import Sample
from groundlm.methods.llm_mde.task_depth import DepthBatcher

from ..conftest import tiny_vision


def _sample(i: int, depth: np.ndarray) -> Sample:
    s = Sample(id=str(i), width=depth.shape[1], height=depth.shape[0])
    s.depth_loader = lambda: depth
    return s


def test_mean_depth_map_averages_valid_pixels_only():
    a = np.full((8, 8), 2.0, dtype=np.float32)
    b = np.full((8, 8), 4.0, dtype=np.float32)
    b[:4] = 0.0  # unknown in the top half of b
    floor = MeanDepthMap(DepthBatcher(32, 8), [_sample(0, a), _sample(1, b)])
    out = floor(torch.zeros(3, 3, 32, 32))
    assert out.shape == (3, 8, 8)
    assert torch.allclose(out[0, :4], torch.full((4, 8), 2.0)) and torch.allclose(out[0, 4:], torch.full((4, 8), 3.0))


def test_depth_cnn_maps_pixels_to_bounded_metric_depth():
    torch.manual_seed(0)
    model = DepthCNN(DepthCNNConfig(widths=(8, 16), depths=(1, 1), heads=(1, 1), decoder=8, max_depth=5))
    depth = model(torch.randn(2, 3, 32, 32))
    values = depth.detach()
    assert depth.shape == (2, 32, 32) and float(values.min()) > 0 and float(values.max()) < 5
    depth.mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_a_sample_without_depth_is_refused():
    s = Sample(id="x", width=8, height=8)
    with pytest.raises(ValueError, match="no depth map"):
        DepthBatcher(32, 8).target(s)


def test_tower_depth_reads_the_tower_alone_and_trains_only_the_head():
    from groundlm.baselines.depth_cnn import TowerDepth

    vision = tiny_vision()
    model = TowerDepth(vision, channels=16, blocks=2, max_depth=10.0, freeze_tower=True)
    depth = model(torch.randn(2, 3, 32, 32))
    assert depth.shape == (2, 16, 16) and model.out_size == 16
    depth.mean().backward()
    assert all(p.grad is None for p in model.vision.parameters())
    assert all(p.grad is not None for p in model.head.parameters())
