import json

from groundlm.bench.region import COLUMNS, RegionBenchConfig, format_region_table, run_region_bench

from ..conftest import tiny_language, tiny_vision


def test_region_bench_runs_every_row_and_writes_the_same_numbers(tmp_path):
    cfg = RegionBenchConfig(
        run_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        n_train=6,
        n_test=2,
        size=48,
        tower=None,
        vision=tiny_vision(freeze=True),
        language=tiny_language(kind="llama", num_layers=1),
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


def test_real_splits_give_the_bench_its_regions(tmp_path):
    """RefCOCOg's expressions are its regions' references; Visual Genome's regions have captions but no tags or
    categories (so no tag decoder and no recognition column)."""
    import pickle

    from PIL import Image

    from groundlm import data
    from groundlm.bench.region import dense_set
    from groundlm.tasks.region_caption import region_vocabulary

    (tmp_path / "refcocog").mkdir()
    (tmp_path / "images").mkdir()
    Image.new("RGB", (64, 48)).save(tmp_path / "images" / "a.jpg")
    refs = [{"ref_id": 0, "ann_id": 5, "image_id": 1, "split": "val", "sentences": [{"sent": "a red mug"}]}]
    (tmp_path / "refcocog" / "refs(umd).p").write_bytes(pickle.dumps(refs))
    instances = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 5, "image_id": 1, "bbox": [4, 6, 20, 10], "category_id": 47}],
        "categories": [{"id": 47, "name": "cup"}],
    }
    (tmp_path / "refcocog" / "instances.json").write_text(json.dumps(instances))
    refcoco = data.load(f"refcoco:{tmp_path}?dataset=refcocog&split=val")
    test = dense_set(refcoco, image=False)
    assert [e.answer for e in test.examples] == [["a red mug"]] and test.examples[0].region_boxes == [(4, 6, 24, 16)]
    assert region_vocabulary(refcoco) == ((), ("cup",))

    vg = [{"id": 7, "regions": [{"x": 1, "y": 2, "width": 10, "height": 5, "phrase": "a wooden bench"}]}]
    (tmp_path / "regions.json").write_text(json.dumps(vg))
    (tmp_path / "image_data.json").write_text(json.dumps([{"image_id": 7, "width": 64, "height": 48}]))
    genome = data.load(f"vg:{tmp_path / 'regions.json'}?images={tmp_path / 'images'}")
    assert dense_set(genome, image=True).examples[0].answer == ["a wooden bench"]
    assert region_vocabulary(genome) == ((), ("region",))
