import torch

from groundlm.methods.llm_mde.modeling_depth_head import AdaptationHead
from groundlm.methods.llm_mde.modeling_reprogramming import ReprogrammingLayer


def test_shapes_and_prototypes_from_the_frozen_embeddings():
    torch.manual_seed(0)
    embeddings = torch.nn.Embedding(50, 24)  # the LM's word embeddings, frozen
    embeddings.weight.requires_grad_(False)
    layer = ReprogrammingLayer(patch_dim=16, vocab_size=50, lm_dim=24, prototypes=7, heads=4)
    patches = torch.randn(2, 9, 16, requires_grad=True)
    out = layer(patches, embeddings.weight)
    assert out.shape == (2, 9, 24)
    # E' = W E + b: each prototype is a learned mixture of word embeddings.
    expected = layer.mapping.weight @ embeddings.weight + layer.mapping.bias[:, None]
    assert torch.allclose(layer.prototypes(embeddings.weight), expected, atol=1e-5)
    out.sum().backward()
    # Gradients reach the mapping, the projections and the patches, never the embeddings.
    assert embeddings.weight.grad is None
    for module in (layer.mapping, layer.query, layer.key, layer.value, layer.out):
        assert module.weight.grad is not None and module.weight.grad.abs().sum() > 0
    assert patches.grad is not None and patches.grad.abs().sum() > 0


def test_attention_over_prototypes_has_a_known_answer():
    torch.manual_seed(1)
    embeddings = torch.randn(30, 12)
    # One prototype: every patch attends to it alone, so each output is W_o (W_v E' + b_v) + b_o.
    layer = ReprogrammingLayer(patch_dim=5, vocab_size=30, lm_dim=12, prototypes=1, heads=3)
    out = layer(torch.randn(2, 4, 5), embeddings)
    source = layer.prototypes(embeddings)
    expected = layer.out(layer.value(source))[0]
    assert torch.allclose(out, expected.expand(2, 4, 12), atol=1e-5)
    # Two prototypes and a query that prefers the first by a wide margin: the first one's value comes out.
    layer = ReprogrammingLayer(patch_dim=1, vocab_size=30, lm_dim=12, prototypes=2, heads=1, key_dim=1)
    with torch.no_grad():
        layer.query.weight.fill_(1.0), layer.query.bias.zero_()
        layer.key.weight.zero_(), layer.key.bias.zero_()
        layer.mapping.weight.zero_(), layer.mapping.bias.copy_(torch.tensor([1.0, 0.0]))
        layer.key.weight[0, 0] = 100.0  # key of prototype 0 = 100 * E'_0[0] = 100, of prototype 1 = 0
    source = layer.prototypes(embeddings)
    out = layer(torch.ones(1, 1, 1), embeddings)
    assert torch.allclose(out[0, 0], layer.out(layer.value(source))[0], atol=1e-4)


def test_adaptation_head_maps_tokens_to_metric_depth():
    torch.manual_seed(2)
    head = AdaptationHead(lm_dim=24, grid=(3, 4), channels=32, blocks=3, max_depth=8.0)
    tokens = torch.randn(2, 12, 24, requires_grad=True)
    depth = head(tokens)
    assert depth.shape == (2, 24, 32)  # each block doubles the grid
    assert float(depth.min()) > 0 and float(depth.max()) < 8.0
    depth.mean().backward()
    assert tokens.grad is not None and all(p.grad is not None for p in head.parameters() if p.requires_grad)
    # Each output pixel depends on its own part of the grid: moving one token changes its corner most.
    head.eval()
    base = head(tokens.detach())
    moved = tokens.detach().clone()
    moved[:, 0] += 5
    change = (head(moved) - base).abs()[0]
    assert float(change[:8, :8].mean()) > 5 * float(change[16:, 24:].mean())
    try:
        head(torch.randn(1, 11, 24))
    except ValueError as err:
        assert "12 patch tokens" in str(err)
    else:
        raise AssertionError("a wrong token count must be refused")
