import importlib
import json

import pytest
import torch
from PIL import Image

import groundlm.inference
from groundlm import cli
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks import save_task_list

from ..models.conftest import tiny_config

# The modules (the package's names `predict` and `generate_texts` are functions they define).
predict_module = importlib.import_module("groundlm.inference.predict")
generate_module = importlib.import_module("groundlm.inference.generate")


def test_predict_asks_the_way_the_model_was_trained(monkeypatch, tmp_path):
    seen = []

    def fake_generate(model, collator, examples, *args, **kwargs):
        seen.extend(e.prompt for e in examples)
        return ["[[100,100,300,300]]"] * len(examples)

    monkeypatch.setattr(generate_module, "generate_texts", fake_generate)
    image = Image.new("RGB", (32, 32))
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config())
    out = groundlm.inference.predict(model, image, "refer", "the red cube", query_first=True)
    assert seen[-1].endswith("<image>") and "the red cube" in seen[-1] and out["box"] is not None
    groundlm.inference.predict(model, image, "refer", "the red cube")
    assert seen[-1].startswith("<image>")

    # The CLI reads how the checkpoint was trained from its manifest.
    model.save_pretrained(tmp_path / "m")
    save_task_list(tmp_path / "m", [{"name": "refer", "options": {"query_first": True}}])
    image.save(tmp_path / "x.png")
    argv = ["predict", "--checkpoint", str(tmp_path / "m"), "--image", str(tmp_path / "x.png"), "--query", "a cube"]
    assert cli.main(argv) == 0
    assert seen[-1].endswith("<image>") and "a cube" in seen[-1]


def test_a_bad_prompt_box_is_one_clear_error_from_the_api_and_the_cli(tmp_path, capsys):
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config())
    image = Image.new("RGB", (32, 24))
    for box, words in (
        ((0, 0, 40, 10), "not inside"),
        ((10, 0, 5, 10), "x0 < x1"),
        ((0, 0, float("nan"), 5), "finite"),
    ):
        with pytest.raises(ValueError, match=words):
            groundlm.inference.predict(model, image, "region_caption", box=box)
    model.save_pretrained(tmp_path / "m")
    image.save(tmp_path / "x.png")
    base = ["predict", "--checkpoint", str(tmp_path / "m"), "--image", str(tmp_path / "x.png")]
    assert cli.main([*base, "--task", "region_caption", "--box", "0", "0", "40", "10"]) == 2
    err = capsys.readouterr().err
    assert "not inside the 32x24 image" in err and "Traceback" not in err
    assert cli.main([*base, "--task", "region_caption", "--box", "0", "0", "nan", "10"]) == 2
    assert "not finite" in capsys.readouterr().err


def test_checkpoint_eval_uses_the_trained_refer_options(monkeypatch, tmp_path, capsys):
    from groundlm.data.synth.writer import write_split

    write_split(tmp_path / "val", 2, seed=1, size=32, domain="portrait", progress=False)
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config())
    model.save_pretrained(tmp_path / "m")
    save_task_list(tmp_path / "m", [{"name": "refer", "options": {"query_first": True}}])
    built = {}

    import groundlm.train.evaluate as evaluate_module

    def fake_evaluate(generator, task, *args, **kwargs):
        built["query_first"] = task.query_first
        return {"n": 0}

    monkeypatch.setattr(evaluate_module, "evaluate_answers", fake_evaluate)
    argv = ["eval", "refer", "--checkpoint", str(tmp_path / "m"), "--data", str(tmp_path / "val"), "--json"]
    assert cli.main(argv) == 0 and built == {"query_first": True}
    assert json.loads(capsys.readouterr().out) == {"n": 0}


def test_predict_batch_answers_each_query_as_predict_does_alone():
    torch.manual_seed(0)
    model = GroundedVLM(tiny_config()).eval()
    pictures = [Image.new("RGB", (40 + 8 * i, 32), (50 * i, 90, 200 - 40 * i)) for i in range(3)]
    queries = [
        predict_module.Query(pictures[0], "refer", "the red cube"),
        predict_module.Query(pictures[1], "region_caption", box=(2.0, 3.0, 20.0, 30.0)),
        predict_module.Query(pictures[2], "refer", "the green sphere on the left"),
        predict_module.Query(pictures[1], "pose", "the person"),
    ]
    options = predict_module.AnswerOptions(max_new_tokens=12, query_first=True)
    batched = predict_module.predict_batch(model, queries, options)
    alone = [
        groundlm.inference.predict(model, q.image, q.task, q.query, q.box, max_new_tokens=12, query_first=True)
        for q in queries
    ]
    assert [r["task"] for r in batched] == ["refer", "region_caption", "refer", "pose"]
    assert batched == alone
    # A query its task cannot take is refused before anything runs.
    with pytest.raises(ValueError, match="needs a box"):
        predict_module.predict_batch(model, [*queries, predict_module.Query(pictures[0], "region_caption")])


def test_narrate_places_each_word_at_its_point_and_describe_captions_a_box(tmp_path, capsys):
    from groundlm.models.config import HeadConfig

    torch.manual_seed(0)
    model = GroundedVLM(tiny_config(heads={"point": HeadConfig(kind="point", out_dim=2)}))
    image = Image.new("RGB", (40, 20), (20, 120, 200))
    out = groundlm.inference.predict(model, image, "narrate", max_new_tokens=8)
    assert out["task"] == "narrate" and isinstance(out["words"], list)
    assert [w["word"] for w in out["words"]] == out["text"].split()
    assert all(0 <= w["point"][0] <= 40 and 0 <= w["point"][1] <= 20 for w in out["words"])
    model.save_pretrained(tmp_path / "m")
    image.save(tmp_path / "x.png")
    base = ["predict", "--checkpoint", str(tmp_path / "m"), "--image", str(tmp_path / "x.png")]
    assert cli.main([*base, "--task", "narrate", "--out", str(tmp_path / "o.png")]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "narrate" and (tmp_path / "o.png").is_file()
    assert cli.main([*base, "--task", "describe", "--box", "2", "2", "30", "18"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "region_caption"
    assert cli.main([*base, "--task", "describe"]) == 2
    assert "needs --box" in capsys.readouterr().err


def test_describe_with_a_multi_view_model_draws_the_views_it_saw(tmp_path, capsys):
    from groundlm.geometry.views import select_views
    from groundlm.models.config import ViewsConfig

    torch.manual_seed(0)
    views = ViewsConfig(n=3, queries=2, width=16, layers=1, roi_grid=2, source_size=48)
    model = GroundedVLM(tiny_config(region_encoder="dynrefer", views=views))
    model.save_pretrained(tmp_path / "m")
    save_task_list(tmp_path / "m", [{"name": "region_caption", "options": {"image": False}}])
    pixels = torch.randint(0, 256, (40, 60, 3), dtype=torch.uint8).numpy()
    Image.fromarray(pixels).save(tmp_path / "x.png")
    out_png = tmp_path / "views.png"
    argv = ["predict", "--checkpoint", str(tmp_path / "m"), "--image", str(tmp_path / "x.png"), "--task", "describe"]
    assert cli.main([*argv, "--box", "10", "5", "30", "25", "--out", str(out_png)]) == 0
    result = json.loads(capsys.readouterr().out)
    want = select_views(Image.open(tmp_path / "x.png").convert("RGB"), (10, 5, 30, 25), 3)
    assert [v["t"] for v in result["views"]] == [0.0, *sorted(want.ts[1:])]
    assert result["views"][0]["box"] == pytest.approx([10, 5, 30, 25])
    assert result["region"] == pytest.approx([10, 5, 30, 25])
    drawn = Image.open(out_png)
    assert drawn.size == (60, 40) and drawn.tobytes() != Image.open(tmp_path / "x.png").tobytes()
