"""A config's ``method:`` names the trainer a method registers; without one, the grounded VLM's trains."""

from groundlm.cli import main
from groundlm.train.trainers import GROUNDED, TRAINERS, trainer_for


def test_a_config_without_a_method_trains_the_grounded_vlm_and_a_method_registers_its_own():
    assert trainer_for(None) is GROUNDED
    assert trainer_for("depth") is TRAINERS["depth"]  # registered by LLM-MDE's folder, loaded on first use


def test_an_unknown_method_is_one_line_and_exit_2(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("method: sculpt\nrun_dir: r\ntrain: spatialworld:x\n")
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown training method 'sculpt'" in err and "depth" in err and len(err.splitlines()) == 1
