"""The model handle: every saved model carries a manifest, and ``load_model`` turns any model directory (with a
manifest or from before it) into one object that answers each task as ``predict`` does."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from groundlm.adapters.merge import merge_models
from groundlm.inference import draw_overlay, load_model, model_manifest, predict
from groundlm.inference.merge import merge_saved_models
from groundlm.manifest import MANIFEST, Manifest, read_manifest
from groundlm.methods.llm_mde.modeling_depth_lm import DepthLM
from groundlm.models.vlm import GroundedVLM
from groundlm.serve import ModelService
from groundlm.tasks import save_task_list

from ..backends.tiny import save_llava
from ..methods.llm_mde.test_train_depth import tiny_model_config
from ..models.conftest import tiny_config

PREDICT_TASKS = ("refer", "region_caption", "pose", "narrate")  # what a grounded VLM answers, in this order


def picture() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))


@pytest.fixture
def vlm_dir(tmp_path):
    torch.manual_seed(0)
    GroundedVLM(tiny_config()).save_pretrained(tmp_path / "vlm", {"refer": {"format": "cogvlm", "query_first": True}})
    return tmp_path / "vlm"


def test_every_kind_writes_its_manifest_and_loads_from_it(tmp_path, vlm_dir):
    assert read_manifest(vlm_dir) == Manifest("vlm", {"refer": {"format": "cogvlm", "query_first": True}})
    torch.manual_seed(0)
    DepthLM(tiny_model_config()).save_pretrained(tmp_path / "depth")
    assert read_manifest(tmp_path / "depth") == Manifest("depth", {"depth": {}})
    merged = tmp_path / "merged"
    merge_models(vlm_dir, [vlm_dir], merged, "task_arithmetic", [1.0])
    assert read_manifest(merged) == Manifest("vlm", read_manifest(vlm_dir).tasks, str(vlm_dir))
    llava = load_model(save_llava(tmp_path / "llava"))  # a transformers directory from before any manifest
    llava.save_pretrained(tmp_path / "llava-again")
    assert read_manifest(tmp_path / "llava-again").kind == "hf"
    on_disk = json.loads((vlm_dir / MANIFEST).read_text())
    assert on_disk["version"] == 1 and set(on_disk) == {"kind", "tasks", "base", "version"}
    kinds = {d: load_model(tmp_path / d) for d in ("vlm", "depth", "merged", "llava-again")}
    assert {d: m.kind for d, m in kinds.items()} == {
        "vlm": "vlm",
        "depth": "depth",
        "merged": "vlm",
        "llava-again": "hf",
    }
    assert kinds["vlm"].tasks == {"refer": {"format": "cogvlm", "query_first": True}}
    assert kinds["depth"].tasks == {"depth": {}} and kinds["llava-again"].offered == PREDICT_TASKS


def test_older_directories_load_from_what_they_hold(tmp_path, vlm_dir):
    (vlm_dir / MANIFEST).unlink()
    assert model_manifest(vlm_dir) == Manifest("vlm", {})
    save_task_list(vlm_dir, [{"name": "pose", "options": {"reread": True}}])  # the tasks.json of older runs
    assert (vlm_dir / "tasks.json").is_file()
    model = load_model(vlm_dir)
    assert model.kind == "vlm" and model.tasks == {"pose": {"reread": True}} and model.offered == ("pose",)
    assert model.options("pose").reread and not model.options("pose", reread=False).reread
    torch.manual_seed(0)
    DepthLM(tiny_model_config()).save_pretrained(tmp_path / "depth")
    (tmp_path / "depth" / MANIFEST).unlink()
    assert load_model(tmp_path / "depth").kind == "depth"
    assert model_manifest(save_llava(tmp_path / "llava")).kind == "hf"
    with pytest.raises(FileNotFoundError, match="not a model directory"):
        load_model(tmp_path)


def test_the_handle_answers_as_predict_does(vlm_dir):
    vlm = GroundedVLM.from_pretrained(vlm_dir).eval()
    model = load_model(vlm_dir)
    image = picture()
    for task, query, box in (("refer", "the red cube", None), ("pose", "the person", None), ("narrate", None, None)):
        expected = predict(vlm, image, task, query, box, query_first=True)
        assert model.answer(image, task, query) == expected
    caption = model.answer(image, "region_caption", box=(2, 2, 20, 16))
    assert caption == predict(vlm, image, "region_caption", box=(2, 2, 20, 16))
    with pytest.raises(ValueError, match="answers refer, region_caption, pose, narrate, not 'depth'"):
        model.answer(image, "depth")


def test_the_readme_example(tmp_path, vlm_dir):
    image = picture()
    result = load_model(vlm_dir).answer(image, "refer", "the red cube on the left")
    draw_overlay(image, result, tmp_path / "answer.png")
    assert result["task"] == "refer" and "text" in result and (tmp_path / "answer.png").is_file()


def test_a_depth_model_answers_depth_through_the_same_handle(tmp_path):
    torch.manual_seed(0)
    DepthLM(tiny_model_config()).save_pretrained(tmp_path / "depth")
    model = load_model(tmp_path / "depth")
    result = model.answer(picture(), "depth")
    assert result["task"] == "depth" and result["depth"].shape == (24, 32)
    assert result["metres"]["min"] <= result["metres"]["median"] <= result["metres"]["max"]
    draw_overlay(picture(), result, tmp_path / "depth.png")
    assert np.asarray(Image.open(tmp_path / "depth.png")).shape == (24, 32, 3)
    with pytest.raises(ValueError, match="depth model"):
        model.answer(picture(), "refer", "the cube")


def test_serve_takes_a_transformers_model_with_predicts_tasks(tmp_path):
    service = ModelService.from_checkpoint(save_llava(tmp_path / "llava"))
    assert tuple(service.tasks) == PREDICT_TASKS
    from groundlm.inference.predict import Query

    options = service.options("refer", False, service.model.options("refer").numeric)
    assert options.format == "shikra" and options.max_new_tokens == 64  # the family's own syntax and length
    [result] = service.run(options, [Query(picture(), "refer", "the cube")])
    assert result["task"] == "refer" and "parsed" in result


def test_merging_dispatches_on_the_manifests(tmp_path, vlm_dir):
    torch.manual_seed(0)
    DepthLM(tiny_model_config()).save_pretrained(tmp_path / "depth")
    with pytest.raises(ValueError, match="holds a depth model; it cannot merge"):
        merge_saved_models(vlm_dir, [tmp_path / "depth"], tmp_path / "m", "task_arithmetic")
    with pytest.raises(ValueError, match="merging takes groundlm or transformers VLMs"):
        merge_saved_models(tmp_path / "depth", [tmp_path / "depth"], tmp_path / "m", "task_arithmetic")
    report = merge_saved_models(vlm_dir, [vlm_dir], tmp_path / "m", "task_arithmetic", [1.0])
    assert report["method"] == "task_arithmetic" and load_model(tmp_path / "m").kind == "vlm"


def test_serve_takes_a_depth_model(tmp_path):
    import base64
    import io

    from groundlm.inference.predict import Query

    torch.manual_seed(0)
    DepthLM(tiny_model_config()).save_pretrained(tmp_path / "depth")
    service = ModelService.from_checkpoint(tmp_path / "depth")
    assert tuple(service.tasks) == ("depth",) and service.spec("depth").needs == "image"
    options = service.options("depth", False, None)
    service.check(Query(picture(), "depth"), options)
    [result] = service.run(options, [Query(picture(), "depth")])
    png = Image.open(io.BytesIO(base64.b64decode(result["depth_png_mm"])))
    assert np.asarray(png).dtype == np.uint16 and png.size == (32, 24) and "depth" not in result
