import math

import torch
import torch.nn.functional as F

from groundlm.methods.dynrefer.modeling_decoders import (
    RegionDecoders,
    asymmetric_loss_sum,
    region_loss_counts,
    sigmoid_contrastive_loss_sum,
)


def test_asymmetric_loss_without_focusing_or_clipping_is_binary_cross_entropy():
    z = torch.tensor([[2.0, -1.0, 0.3], [-0.5, 0.0, 4.0]])
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    want = F.binary_cross_entropy_with_logits(z, y, reduction="sum")
    assert torch.allclose(asymmetric_loss_sum(z, y, gamma_pos=0, gamma_neg=0, clip=0), want, atol=1e-6)


def test_asymmetric_loss_discards_easy_negatives_and_keeps_positives():
    # A negative with p = sigmoid(-3) < clip costs nothing; a positive costs -log p whatever its ease.
    assert float(asymmetric_loss_sum(torch.tensor([[-3.0]]), torch.tensor([[0.0]]))) == 0.0
    z = torch.tensor([[1.5]])
    want = -math.log(torch.sigmoid(z).item())
    assert math.isclose(float(asymmetric_loss_sum(z, torch.tensor([[1.0]]))), want, rel_tol=1e-6)
    # A hard negative (p = 0.9): p_m = 0.85, loss = 0.85^4 * -log(0.15).
    z = torch.logit(torch.tensor([[0.9]]))
    want = 0.85**4 * -math.log(0.15)
    assert math.isclose(float(asymmetric_loss_sum(z, torch.tensor([[0.0]]))), want, rel_tol=1e-5)


def test_sigmoid_contrastive_loss_by_hand():
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    positive = torch.eye(2, dtype=torch.bool)

    def softplus(x):
        return math.log1p(math.exp(x))

    want = softplus(-2.0) + softplus(-1.0) + softplus(0.5) + softplus(-3.0)  # -log sigmoid(y z) = softplus(-y z)
    assert math.isclose(float(sigmoid_contrastive_loss_sum(logits, positive)), want, rel_tol=1e-6)


def test_decoders_losses_count_only_labelled_regions_and_treat_equal_captions_as_positives():
    torch.manual_seed(0)
    dec = RegionDecoders(16, ("a", "b", "c"), contrastive=True)
    embed = torch.nn.Embedding(10, 16)
    tokens = torch.randn(3, 4, 16, requires_grad=True)
    targets = {
        "tag": torch.tensor([[1.0, 0, 0], [float("nan")] * 3, [0, 1.0, 1.0]]),
        "text_ids": torch.tensor([[1, 2, 0], [1, 2, 0], [3, 0, 0]]),
        "text_mask": torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 0]], dtype=torch.bool),
    }
    assert region_loss_counts(targets) == {"tag": 2, "rtc": 2}
    losses = dec.losses(tokens, targets, embed, {})
    assert set(losses) == {"tag", "rtc"}
    tag_sum = asymmetric_loss_sum(dec.tagger(tokens[[0, 2]]), targets["tag"][[0, 2]])
    assert torch.allclose(losses["tag"], tag_sum / 2)
    # Regions 0 and 1 have the same caption: both pairs are positives.
    logits = dec.contrast(tokens[:2], embed(targets["text_ids"][:2]), targets["text_mask"][:2])
    assert torch.allclose(losses["rtc"], sigmoid_contrastive_loss_sum(logits, torch.ones(2, 2, dtype=torch.bool)) / 2)
    sum(losses.values()).backward()
    assert tokens.grad is not None and tokens.grad[2].abs().sum() > 0  # region 2 trains the tags only


def test_mean_token_log_prob_is_the_per_row_token_loss():
    from groundlm.models.losses import IGNORE, mean_token_log_prob, token_loss_sum

    torch.manual_seed(0)
    logits, labels = torch.randn(3, 6, 11), torch.randint(0, 11, (3, 6))
    labels[:, :2] = IGNORE
    labels[2] = IGNORE  # a row with nothing to score
    per_row = mean_token_log_prob(logits, labels)
    assert per_row[2] == 0
    assert torch.allclose(-(per_row[:2] * 4).sum(), token_loss_sum(logits, labels))  # four scored tokens a row
