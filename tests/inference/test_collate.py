import numpy as np
import pytest
import torch
from PIL import Image

from groundlm.data.sample import Sample
from groundlm.inference import IGNORE, Collator
from groundlm.models.tokenizer import load_tokenizer
from groundlm.tasks.base import Example


def test_head_targets_line_up_with_the_tokens_they_belong_to():
    tok = load_tokenizer()
    collator = Collator(tok, image_size=32, image_tokens=4, region_tokens=4)
    image = Image.new("RGB", (64, 64))
    sample = Sample(id="s", width=64, height=64, image_loader=lambda: image)
    rows = np.array([[0.1, 0.2], [np.nan, np.nan], [0.3, 0.4]])
    with_targets = Example("<image>Find the cube.", "[[100,200,300,400]]", sample, targets={"point": rows})
    without = Example("<image>Find the long red sphere.", "[[1,2,3,4]]", sample)
    batch = collator.train_batch([with_targets, without], [image, image])
    grid = batch["head_targets"]["point"]
    assert grid.shape == (2, batch["input_ids"].shape[1], 2) and torch.isnan(grid[1]).all()
    filled = (~torch.isnan(grid[0]).any(-1)).nonzero().flatten().tolist()
    assert len(filled) == 2
    # The position holding row j is the one whose output predicts the j-th target token (its label is next).
    first_label = int((batch["labels"][0] != IGNORE).nonzero()[0])
    assert filled == [first_label - 1, first_label + 1]
    torch.testing.assert_close(grid[0, first_label - 1], torch.tensor([0.1, 0.2]))
    assert "head_targets" not in collator.train_batch([without], [image])


def test_image_targets_sit_on_the_image_placeholders():
    tok = load_tokenizer()
    collator = Collator(tok, image_size=32, image_tokens=4, region_tokens=4)
    image = Image.new("RGB", (64, 64))
    sample = Sample(id="s", width=64, height=64, image_loader=lambda: image)
    cells = np.array([[0.0], [0.25], [1.0], [0.5]])
    ex = Example("Find the cube.<image>", "[[1,2,3,4]]", sample, image_targets={"cells": cells})
    batch = collator.train_batch([ex], [image])
    image_id = tok.convert_tokens_to_ids("<image>")
    positions = (batch["input_ids"][0] == image_id).nonzero().flatten()
    grid = batch["head_targets"]["cells"][0]
    torch.testing.assert_close(grid[positions], torch.tensor(cells, dtype=torch.float32))
    assert torch.isnan(grid[[p for p in range(grid.shape[0]) if p not in positions.tolist()]]).all()
    wrong = Example("<image>Find.", "[[1,2,3,4]]", sample, image_targets={"cells": cells[:3]})
    with pytest.raises(ValueError, match="3 rows for 4 image tokens"):
        collator.train_batch([wrong], [image])
