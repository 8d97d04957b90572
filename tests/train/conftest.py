import pytest
import yaml

from ..conftest import TINY_LANGUAGE, TINY_VISION


@pytest.fixture(scope="session")
def tiny_split(tmp_path_factory):
    from groundlm.data.synth.writer import write_split

    root = tmp_path_factory.mktemp("sw")
    write_split(root / "train", 8, seed=0, size=32, domain="portrait", progress=False)
    write_split(root / "val", 3, seed=1, size=32, domain="portrait", progress=False)
    return root


def tiny_train_config(tmp_path, split, **overrides):
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = {
        "run_dir": str(tmp_path / "run"),
        "train": f"spatialworld:{split / 'train'}",
        "val": f"spatialworld:{split / 'val'}",
        "tasks": [{"name": "refer", "weight": 3}, {"name": "region_caption", "weight": 1}],
        "model": {
            "vision": dict(TINY_VISION),
            "language": {**TINY_LANGUAGE, "max_positions": 128},
            "patch_position": "sincos",
        },
        "batch_size": 4,
        "max_steps": 4,
        "eval_every": 4,
        "eval_items": 3,
        "save_every": 2,
        "max_new_tokens": 8,
        "lr": 3e-3,
    }
    cfg.update(overrides)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
