import json

import pytest

from groundlm import cli, formats
from groundlm.errors import InternalError, UserError, is_user_error


def _raised(fn):
    try:
        fn()
    except Exception as e:
        return e
    raise AssertionError("nothing was raised")


def test_user_errors_are_told_from_bugs():
    assert is_user_error(UserError("bad flag"))
    assert is_user_error(_raised(lambda: formats.get("no-such-format")))  # a groundlm check on input
    assert is_user_error(_raised(lambda: open("/no/such/file")))  # noqa: SIM115
    assert not is_user_error(_raised(lambda: json.loads("{")))  # raised inside another library: a bug
    assert not is_user_error(InternalError("placeholders do not match"))
    assert not is_user_error(RuntimeError("boom"))


def test_the_cli_keeps_the_traceback_of_a_bug(monkeypatch, capsys, tmp_path):
    def broken(*args, **kwargs):
        raise InternalError("3 <image> placeholders for 1 image(s) of 4 tokens each")

    monkeypatch.setattr(cli, "predict_command", broken)
    argv = ["predict", "--checkpoint", str(tmp_path), "--image", "x.png", "--task", "refer", "--query", "a"]
    with pytest.raises(InternalError):
        cli.main(argv)

    def refused(*args, **kwargs):  # the inference layer refuses a request with a plain ValueError
        from PIL import Image

        from groundlm.inference import predict

        predict(None, Image.new("RGB", (8, 8)), "refer", query=None)

    monkeypatch.setattr(cli, "predict_command", refused)
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith("groundlm: error: refer needs a query")
