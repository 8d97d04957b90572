"""``groundlm bench hpe --base-model DIR`` on a transformers VLM: the HPE-CogVLM recipe (pose LoRA with rehearsal,
merges, evaluation) with a tiny random PaliGemma as the grounding base, answering in its own box syntax."""

from groundlm.baselines.crop_pose import CropPoseConfig
from groundlm.bench.hpe import HpeBenchConfig, run_hpe_bench
from groundlm.formats.numeric import NumericDecoding
from groundlm.models.lora import LoraSpec

from .tiny import save_paligemma


def test_hpe_bench_runs_on_a_transformers_base(tmp_path):
    base = save_paligemma(tmp_path / "paligemma")
    cfg = HpeBenchConfig(
        device="cpu",
        run_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        n_train=6,
        n_test=3,
        size=32,
        base_model=str(base),
        tower=None,
        lora=LoraSpec(r=2, alpha=4, towers=("language", "vision"), train_modules=("region_encoder",)),
        lora_steps=2,
        lora_lr=0.05,
        ratios=(0.0, 0.5),
        taus=(0.99999,),
        cnn=CropPoseConfig(crop_size=32, width=16, blocks=2, steps=2, batch_size=4),
        batch_size=2,
        eval_items=2,
        numeric=NumericDecoding("median", 2),
    )
    result = run_hpe_bench(cfg, progress=False)
    rows = {r["row"]: r for r in result["rows"]}
    assert list(rows) == [
        "mean-pose floor",
        "CNN crop (6DRepNet-style)",
        "grounding base (no pose)",
        "LoRA only, r=0",
        "LoRA only, r=0.5",
        "task arithmetic",
        "TIES",
        "DARE (linear)",
        "layer selection, τ=0.99999",
    ]
    # Re-reading needs region tokens, and region_encoder is groundlm's: both are dropped for a transformers base.
    assert result["config"]["reread"] is False and result["config"]["lora"]["train_modules"] == ()
    assert rows["layer selection, τ=0.99999"]["layers_taken"]["model0"] > 0
    assert all(0.0 <= rows[n]["invalid"] <= 1.0 and rows[n]["grounding_acc50"] is not None for n in list(rows)[2:])
    models = tmp_path / "run" / "models"
    assert (models / "lora-r0.5" / "final" / "adapter_model.safetensors").is_file()
    assert (models / "merge-ties" / "config.json").is_file() and (models / "merge-ties" / "backend.json").is_file()
    # Its LoRA runs load the base as the bench says (gradient checkpointing by default, for real sizes).
    assert result["config"]["backend"]["gradient_checkpointing"] is True
