import json

from groundlm.bench.region import COLUMNS, RegionBenchConfig, format_region_table, run_region_bench
from groundlm.models.config import LanguageConfig, VisionConfig


def test_region_bench_runs_every_row_and_writes_the_same_numbers(tmp_path):
    cfg = RegionBenchConfig(
        run_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        n_train=6,
        n_test=2,
        size=48,
        tower=None,
        vision=VisionConfig(
            image_size=32, patch_size=8, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, freeze=True
        ),
        language=LanguageConfig(kind="llama", hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64),
        queries=2,
        steps=2,
        detector_steps=2,
        batch_size=4,
        caption_tokens=5,
        list_tokens=12,
        device="cpu",
    )
    result = run_region_bench(cfg, progress=False)
    rows = result["rows"]
    assert [r["model"] for r in rows] == [
        "one_view",
        *["multi_view"] * 3,
        "single_task",
        "light_contrast",
        "region_token",
    ]
    assert [r["views"] for r in rows[1:4]] == ["fixed", "random", "selected"]
    for r in rows:
        assert set(r) == {"row", "model", "views", *COLUMNS}
        assert 0 <= r["METEOR"] <= 1 and 0 <= r["category_acc"] <= 1 and 0 <= r["densecap_map_gt"] <= 1
        assert r["densecap_map_pred"] is not None
    # Tags are read where a model has the tag decoder only.
    assert all(rows[k]["tag_map"] is not None for k in (0, 1, 2, 3, 5))
    assert rows[4]["tag_map"] is None and rows[6]["tag_map"] is None
    assert "cube" in result["tags"] or "person" in result["tags"]
    assert json.loads((tmp_path / "run" / "bench-region.json").read_text())["rows"] == rows
    assert "selected views" in format_region_table(result)
