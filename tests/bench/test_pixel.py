import json

from groundlm.bench.pixel import COLUMNS, PixelBenchConfig, format_pixel_table, run_pixel_bench

from ..conftest import tiny_language, tiny_vision


def test_pixel_bench_runs_every_row_and_writes_the_same_numbers(tmp_path):
    cfg = PixelBenchConfig(
        run_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        n_train=6,
        n_test=3,
        size=32,
        tower=None,
        vision=tiny_vision(),
        language=tiny_language(kind="llama", num_layers=1),
        steps=2,
        batch_size=4,
        eval_items=3,
        narrate_tokens=6,
        device="cpu",
    )
    result = run_pixel_bench(cfg, progress=False)
    rows = {r["row"]: r for r in result["rows"]}
    assert len(rows) == 6 and all(set(r) == {"row", *COLUMNS} for r in rows.values())
    full = rows["PixelLLM: narration with per-word points"]
    assert 0 <= full["trace_l2"] <= 1.5 and full["narrate_METEOR"] is not None
    for name in ("PixelLLM: refer, box as text", "PixelLLM: refer, box regressed"):
        assert 0 <= rows[name]["refer_acc50"] <= 1 and rows[name]["refer_ciou"] is not None
    assert rows["region caption, box written as text"]["region_CIDEr"] is not None
    assert result["refer_winner"] in ("text", "regression")
    assert json.loads((tmp_path / "run" / "bench-pixel.json").read_text())["rows"] == result["rows"]
    assert "box regressed" in format_pixel_table(result)
