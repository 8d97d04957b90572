import numpy as np
import pytest

from groundlm.methods.dynrefer.metrics_tags import (
    named_category,
    ranked_average_precision,
    recognition_accuracy,
    tag_metrics,
)


def test_ranked_average_precision_by_hand():
    # Ranked: pos, neg, pos, neg -> precision at the positives 1/1 and 2/3.
    assert ranked_average_precision(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0], bool)) == pytest.approx(
        (1 + 2 / 3) / 2
    )
    with pytest.raises(ValueError):
        ranked_average_precision(np.array([0.1]), np.array([False]))


def test_tag_metrics_skip_tags_without_positives_and_count_micro_f1():
    scores = np.array([[0.9, 0.2, 0.6], [0.4, 0.7, 0.1], [0.8, 0.1, 0.3]])
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    m = tag_metrics(scores, labels)
    assert m["tags_scored"] == 2 and m["tag_map"] == pytest.approx(1.0)
    # Predicted at >= 0.5: (0,0) (0,2) (1,1) (2,0) -> tp 3, 4 predicted, 3 true -> F1 = 6 / 7.
    assert m["tag_f1"] == pytest.approx(6 / 7)
    with pytest.raises(ValueError):
        tag_metrics(scores, labels[:2])


def test_recognition_reads_the_first_category_named_as_a_word():
    cats = ["cube", "person", "head", "sphere"]
    assert named_category("the head of a person facing left", cats) == "head"
    assert named_category("a large red cubes", cats) is None  # whole words only
    assert named_category("A Sphere near a cube", cats) == "sphere"
    acc = recognition_accuracy(["a red cube", "a person in a shirt", "nothing"], ["cube", "head", "sphere"], cats)
    assert acc == pytest.approx(1 / 3)
