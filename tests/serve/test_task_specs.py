"""The server's task list comes from the tasks and the model kinds (no table of its own): what each says."""

from groundlm.inference.model import model_kinds
from groundlm.serve.service import TaskSpec

EXPECTED = {
    "refer": ("query", "a referring expression in, the box of what it names out (pixels)", True),
    "pose": ("query", "a person named in, their head box (pixels) and yaw, pitch, roll (degrees) out", True),
    "region_caption": ("box", "a box in (pixels), a caption of that region out", False),
    "narrate": ("image", "a narration of the picture, each word at its point (pixels)", False),
    "depth": ("image", "the picture's depth map: a 16-bit PNG in millimetres (base64)", False),
}


def test_every_task_a_model_answers_says_what_it_takes_and_gives():
    for kind in model_kinds():
        for task in kind.kind_tasks():
            about = kind.describe_task(task)
            assert about["takes"] in ("query", "box", "image") and about["summary"], task
            if task in EXPECTED:
                assert (about["takes"], about["summary"], about["numeric"]) == EXPECTED[task]


def test_a_spec_is_what_the_model_kind_describes():
    class Kind:
        @staticmethod
        def describe_task(task):
            return {"takes": "image", "summary": "s", "numeric": False}

    assert TaskSpec.of(Kind(), "t") == TaskSpec("t", "image", "s", False)
