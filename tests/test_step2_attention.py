"""Step 2: the from-scratch attention equals PyTorch's, and the block behaves as taught."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from step2_architecture.attention import (
    MultiHeadAttention,
    TransformerBlock,
    causal_mask,
    copy_from_torch,
    max_gaps,
    scaled_dot_product_attention,
    sinusoidal_positions,
)

TOL = 1e-5


@pytest.mark.parametrize("n_q, n_k", [(1, 1), (7, 7), (5, 9)])
@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_matches_pytorch(n_q, n_k, masked):
    torch.manual_seed(n_q * 10 + n_k)
    q, k, v = torch.randn(2, 3, n_q, 8), torch.randn(2, 3, n_k, 8), torch.randn(2, 3, n_k, 8)
    # a random mask that keeps at least one key per query (all -inf rows are NaN in both)
    mask = (torch.rand(n_q, n_k) > 0.4) | torch.eye(n_q, n_k, dtype=torch.bool) if masked else None
    ours, weights = scaled_dot_product_attention(q, k, v, mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert (ours - theirs).abs().max() < TOL
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, n_q))


def test_causal_mask_matches_is_causal():
    q, k, v = (torch.randn(1, 2, 6, 4) for _ in range(3))
    ours, weights = scaled_dot_product_attention(q, k, v, causal_mask(6))
    assert (ours - F.scaled_dot_product_attention(q, k, v, is_causal=True)).abs().max() < TOL
    assert weights.triu(1).abs().max() == 0  # nothing attends to the future


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("d_model, n_heads", [(16, 4), (12, 3), (8, 1)])
def test_multi_head_matches_nn_multiheadattention(d_model, n_heads, masked):
    torch.manual_seed(d_model + n_heads)
    theirs = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    ours = MultiHeadAttention(d_model, n_heads)
    copy_from_torch(ours, theirs)
    x = torch.randn(3, 5, d_model)
    mask = causal_mask(5) if masked else None
    expected = theirs(x, x, x, attn_mask=None if mask is None else ~mask, need_weights=False)[0]
    assert (ours(x, mask=mask) - expected).abs().max() < TOL


def test_cross_attention_matches_nn_multiheadattention():
    torch.manual_seed(1)
    theirs, ours = nn.MultiheadAttention(16, 4, batch_first=True), MultiHeadAttention(16, 4)
    copy_from_torch(ours, theirs)
    x, memory = torch.randn(2, 3, 16), torch.randn(2, 7, 16)  # decoder reads the encoder
    assert (ours(x, context=memory) - theirs(x, memory, memory)[0]).abs().max() < TOL


@pytest.mark.parametrize("masked", [False, True])
def test_block_matches_nn_transformer_encoder_layer(masked):
    """The whole block, not just its attention: PyTorch's pre-LN encoder layer with GELU and
    no dropout is the same computation, once its weights are copied into ours."""
    torch.manual_seed(2)
    theirs = nn.TransformerEncoderLayer(
        16, 4, dim_feedforward=64, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    ).eval()
    ours = TransformerBlock(16, 4)
    copy_from_torch(ours.attn, theirs.self_attn)
    with torch.no_grad():
        for mine, torchs in [
            (ours.ln1, theirs.norm1),
            (ours.ln2, theirs.norm2),
            (ours.ff[0], theirs.linear1),
            (ours.ff[2], theirs.linear2),
        ]:
            mine.weight.copy_(torchs.weight)
            mine.bias.copy_(torchs.bias)
    x = torch.randn(3, 5, 16)
    mask = causal_mask(5) if masked else None
    with torch.no_grad():
        expected = theirs(x, src_mask=None if mask is None else ~mask)  # PyTorch's True means "may not attend"
        assert (ours(x, mask=mask) - expected).abs().max() < TOL


def test_block_is_causal_under_the_mask():
    torch.manual_seed(0)
    block = TransformerBlock(16, 4)
    x = torch.randn(1, 6, 16)
    changed = x.clone()
    changed[:, -1] += 1.0
    y, y_changed = block(x, causal_mask(6)), block(changed, causal_mask(6))
    assert torch.equal(y[:, :-1], y_changed[:, :-1])  # earlier tokens cannot see the change
    assert not torch.allclose(y[:, -1], y_changed[:, -1])
    assert sum(p.numel() for p in block.parameters()) == 3280


def test_sinusoidal_positions_follow_the_formula():
    pe = sinusoidal_positions(50, 16)
    assert pe.shape == (50, 16)
    assert pe.abs().max() <= 1
    assert pe[3, 0] == pytest.approx(torch.sin(torch.tensor(3.0)).item(), abs=1e-6)
    assert pe[3, 1] == pytest.approx(torch.cos(torch.tensor(3.0)).item(), abs=1e-6)
    assert pe[3, 14] == pytest.approx(torch.sin(torch.tensor(3.0 / 10000 ** (14 / 16))).item(), abs=1e-6)
    sim = pe @ pe.T
    # the dot product of two positions depends only on their distance (what lets attention read
    # relative positions from it) ...
    for distance in (1, 5, 20):
        assert torch.allclose(sim.diagonal(distance), sim[0, distance].expand(50 - distance), atol=1e-4)
    # ... and nearby positions are more alike than distant ones: what the lab's heat map shows
    by_distance = sim[0]
    assert by_distance[0] == pytest.approx(16 / 2) and by_distance[0] > by_distance[1] > by_distance[2] > by_distance[3]
    assert by_distance[1] > by_distance[10:].max()


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="not divisible by n_heads"):
        MultiHeadAttention(10, 3)


@pytest.fixture(scope="module")
def demo(run_snippet):
    return run_snippet("step2_architecture/attention.py")


def test_script_reports_parity(demo):
    metrics = demo.metrics("attention")
    assert metrics["device"] == "cpu"
    assert max(metrics["max_gaps"].values()) < TOL
    assert metrics["rows_sum_to_one"] and metrics["future_weight"] == 0


def test_page_shows_this_output(demo, page_output):
    page_output("step2_attention", demo.stdout, demo.figures())


@pytest.mark.gpu
def test_parity_on_cuda():
    gaps = max_gaps(device="cuda")
    # GPU kernels (TF32, flash attention) round differently from the CPU; still tiny
    assert max(gaps.values()) < 1e-3, gaps
