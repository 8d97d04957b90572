import pytest

from groundlm import formats
from groundlm.formats import select_box


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("cogvlm", "no box here", "no_match"),
        ("cogvlm", "[[12,34,56]]", "malformed"),
        ("cogvlm", "[[100,100,1000,200]]", "out_of_range"),
        ("cogvlm", "[[500,100,400,200]]", "degenerate"),
        ("qwen", "<box>(1,2),(3)</box>", "malformed"),
        ("qwen", "<box>(1,2),(1200,4)</box>", "out_of_range"),
        ("florence2", "<loc_1><loc_2><loc_3>", "malformed"),
        ("florence2", "<loc_1><loc_2><loc_3><loc_1000>", "out_of_range"),
        ("kosmos2", "<object><patch_index_0044></object>", "malformed"),
        ("kosmos2", "<object><patch_index_0044><patch_index_2000></object>", "out_of_range"),
        ("kosmos2", "<object><patch_index_0863><patch_index_0044></object>", "degenerate"),
        ("shikra", "[0.1,0.2,1.3,0.4]", "out_of_range"),
        ("shikra", "[0.1,0.2,abc,0.4]", "malformed"),
        ("shikra", "[the cat]", "no_match"),
        ("ferret", "[1.5, 2, 3, 4]", "malformed"),
        ("paligemma", "<loc0001><loc0002><loc1024><loc0003>", "out_of_range"),
        ("pose", "[[100,100,300,300]]", "missing_pose"),
        ("pose", "[[100,100,300,300;400,400,500,500]] yaw:+1.0 pitch:+2.0 roll:+3.0", "multiple"),
        ("pose", "[[100,100,300,300]] yaw:+1.0 pitch:+200.0 roll:+3.0", "out_of_range"),
        ("pose", "yaw:+1.0 pitch:+2.0 roll:+3.0", "missing_box"),
        ("pose", "[[100,100,300,300]] yaw:+1.0 yaw:+2.0 pitch:+2.0 roll:+3.0", "malformed"),
        ("pose", "I cannot tell.", "no_match"),
    ],
)
def test_error_kinds(name, text, error):
    result = formats.get(name).parse(text, 640, 480)
    assert result.error == error, result


def test_pose_round_trip_and_blended_set():
    codec = formats.get("pose")
    text = formats.render_pose((64, 48, 320, 240), -45.25, 12.0, 3.04, 640, 480)
    assert text == "[[100,100,500,500]] yaw:-45.2 pitch:+12.0 roll:+3.0"
    result = codec.parse(text, 640, 480)
    assert result.ok and result.pose == (-45.2, 12.0, 3.0) and result.boxes == ((64.0, 48.0, 320.0, 240.0),)
    assert {"missing_pose", "multiple", "out_of_range"} == set(formats.BLENDED_ERRORS)


def test_select_box_policies():
    r = formats.get("cogvlm").parse("[[100,100,200,200;300,300,400,400]]", 1000, 1000)
    assert select_box(r, "first") == ((100.0, 100.0, 200.0, 200.0), None)
    assert select_box(r, "union") == ((100.0, 100.0, 400.0, 400.0), None)
    assert select_box(r, "reject") == (None, "multiple")
    assert select_box(formats.get("cogvlm").parse("nothing", 10, 10)) == (None, "no_match")
    with pytest.raises(ValueError, match="policy"):
        select_box(r, "vote")


def test_registry_and_caller_errors():
    assert set(formats.names()) >= {"cogvlm", "qwen", "florence2", "kosmos2", "shikra", "ferret", "paligemma", "pose"}
    with pytest.raises(ValueError, match="known formats"):
        formats.get("llava")
    with pytest.raises(ValueError, match="image size"):
        formats.get("cogvlm").parse("[[1,2,3,4]]", 0, 10)
    with pytest.raises(ValueError, match="no point syntax"):
        formats.get("qwen").render_points([(1, 2)], 10, 10)
