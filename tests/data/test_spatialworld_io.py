import json

import numpy as np
import pytest

from groundlm import data
from groundlm.cli import main
from groundlm.data.synth.generate import generate
from groundlm.data.synth.writer import write_split


def test_write_read_round_trip_and_worker_independence(tmp_path):
    a = write_split(tmp_path / "a", 6, seed=3, size=64, workers=1, progress=False)
    b = write_split(tmp_path / "b", 6, seed=3, size=64, workers=2, progress=False)
    for f in sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file()):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    ds = data.load(str(a))
    assert len(ds) == 6
    g = generate(3, 4, "classic", 64)
    s = ds[4]

    def normal(x):
        return json.loads(json.dumps(x.to_json()))  # tuples and lists compare equal after JSON

    assert normal(s) == normal(g.sample)
    assert np.array_equal(np.asarray(s.load_image()), g.rendering.rgb)
    assert np.allclose(s.load_depth(), g.rendering.depth, atol=5e-4)  # millimetre PNG
    assert np.array_equal(s.load_mask(), g.rendering.instances)


def test_cli_make_info_show(tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(["data", "make", "--out", str(out), "--n", "3", "--size", "64", "--domain", "dusk"]) == 0
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert info["samples"] == 3 and info["domains"] == {"dusk": 3}
    assert main(["data", "show", f"spatialworld:{out}", "--index", "2", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert main(["data", "show", str(out), "--index", "9", "--out", str(tmp_path / "t.png")]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["data", "make", "--out", str(out), "--n", "1", "--domain", "noir"]) == 2


@pytest.mark.parametrize("workers", [[1]])
def test_bench_data_runs_and_writes_json(tmp_path, capsys, workers):
    assert (
        main(
            [
                "bench",
                "data",
                "--n",
                "4",
                "--size",
                "32",
                "--workers",
                *map(str, workers),
                "--json",
                str(tmp_path / "b.json"),
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["rows"][0]["images"] == 4 and result["rows"][0]["images_per_s"] > 0
    assert "images_per_s" in capsys.readouterr().out
