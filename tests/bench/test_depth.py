import json

import pytest

from groundlm.baselines.depth_cnn import DepthCNNConfig
from groundlm.bench.depth import (
    ABLATIONS,
    CNN,
    COLUMNS,
    FLOOR,
    TOWER_ONLY,
    DepthBenchConfig,
    format_depth_tables,
    k_shot,
)
from groundlm.data.sample import Sample
from groundlm.methods.llm_mde.modeling_depth_lm import DepthLMConfig

from ..conftest import tiny_language, tiny_vision


def tiny_bench(tmp_path, **kw) -> DepthBenchConfig:
    vision = tiny_vision()
    values = dict(
        run_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        n_source=6,
        n_pool=8,
        n_test=4,
        size=32,
        shots=(1, 2),
        tower=None,
        language=tiny_language(kind="llama", num_layers=1),
        lm_steps=2,
        model=DepthLMConfig(vision=vision, prototypes=8, heads=2, head_channels=8, head_blocks=2, lm_training="lora"),
        steps=2,
        shot_steps=2,
        batch_size=2,
        cnn=DepthCNNConfig(widths=(8, 16), depths=(1, 1), heads=(1, 1), decoder=8),
        device="cpu",
    )
    return DepthBenchConfig(**{**values, **kw})


def test_depth_bench_runs_every_row_and_writes_the_same_numbers(tmp_path):
    from groundlm.bench.depth import run_depth_bench

    result = run_depth_bench(tiny_bench(tmp_path), progress=False)
    assert [r["row"] for r in result["zero_shot"]["rows"]] == [*ABLATIONS, TOWER_ONLY, CNN, FLOOR]
    shots = result["k_shot"]["rows"]
    assert [(r["k"], r["row"].split(" ", 1)[1]) for r in shots] == [
        (k, name) for k in (1, 2) for name in (next(iter(ABLATIONS)), CNN, FLOOR)
    ]
    for row in result["zero_shot"]["rows"] + shots:
        assert all(row[c] is not None and row[c] >= 0 for c in COLUMNS)
    floor = result["zero_shot"]["rows"][-1]
    assert floor["train_seconds"] == 0  # the floor is computed, not trained
    written = json.loads((tmp_path / "run" / "bench-depth.json").read_text())
    assert written["zero_shot"]["rows"] == result["zero_shot"]["rows"]
    full = result["zero_shot"]["rows"][0]
    assert result["full_vs_floor_abs_rel"] == pytest.approx(full["abs_rel"] / floor["abs_rel"], abs=1e-3)
    table = format_depth_tables(result)
    assert "no reprogramming" in table and "2-shot" in table and "random LM" in table
    assert (tmp_path / "run" / "models" / "llm-mde-zero-shot" / "config.json").is_file()


def test_k_shot_takes_the_first_k_of_each_scene_type():
    pool = [Sample(id=str(i), width=1, height=1, scene_type=t) for i, t in enumerate("aabbbca")]
    assert [s.id for s in k_shot(pool, 2)] == ["0", "1", "2", "3", "5"]
    assert [s.id for s in k_shot(pool, 1)] == ["0", "2", "5"]


def test_depth_bench_runs_on_nyu_files(tmp_path):
    import h5py
    import numpy as np
    import scipy.io

    from groundlm.bench.depth import run_depth_bench

    rng = np.random.default_rng(0)
    n, w, h = 6, 40, 30
    with h5py.File(tmp_path / "nyu.mat", "w") as f:  # MATLAB v7.3 layout: [N, 3, W, H] and [N, W, H]
        f["images"] = rng.integers(0, 256, (n, 3, w, h), dtype=np.uint8)
        f["depths"] = rng.uniform(1.0, 5.0, (n, w, h)).astype(np.float32)
    scipy.io.savemat(tmp_path / "splits.mat", {"trainNdxs": np.arange(1, 5)[:, None], "testNdxs": np.array([[5], [6]])})
    uri = f"nyu:{tmp_path / 'nyu.mat'}"
    cfg = tiny_bench(tmp_path, train=f"{uri}?split=train", test=f"{uri}?split=test", shots=(1,))
    result = run_depth_bench(cfg, progress=False)
    assert result["zero_shot"]["train_images"] == 4 and result["zero_shot"]["test_images"] == 2
    assert result["k_shot"]["pool"] == f"{uri}?split=train"
    assert all(r["abs_rel"] > 0 for r in result["zero_shot"]["rows"] + result["k_shot"]["rows"])
