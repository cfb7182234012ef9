"""Step 2: the modern block's pieces equal transformers' Llama implementation, piece by piece."""

import pytest
import torch

from step2_architecture import modern
from step2_architecture.modern import GroupedQueryAttention, max_gaps, rope

TOL = 1e-5


@pytest.fixture(scope="module")
def run(run_snippet):
    return run_snippet("step2_architecture/modern.py")


def test_every_piece_and_the_block_equal_llamas(run):
    for kind, gaps in run.metrics("modern")["gaps"].items():
        assert all(gap < TOL for gap in gaps.values()), (kind, gaps)


@pytest.mark.parametrize("n_kv_heads", [1, 2, 4])
def test_any_number_of_kv_heads_matches(n_kv_heads):
    torch.manual_seed(n_kv_heads)
    assert max(max_gaps(n_kv_heads=n_kv_heads, n=7).values()) < TOL


def test_rope_sees_only_the_distance_between_query_and_key():
    q, k = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)

    def score(m, n):
        return (rope(q, torch.tensor([m])) * rope(k, torch.tensor([n]))).sum()

    assert torch.allclose(score(3, 1), score(10, 8), atol=1e-5)  # both 2 apart
    assert not torch.allclose(score(3, 1), score(3, 2), atol=1e-3)


def test_a_wrong_rotation_is_caught(monkeypatch):
    """The parity check can fail: RoPE with another base no longer matches Llama's."""
    monkeypatch.setattr(modern, "rope", lambda x, positions: rope(x, positions, base=500.0))
    assert max_gaps()["RoPE (apply_rotary_pos_emb)"] > 1e-2


def test_shared_kv_heads_shrink_the_cache_by_the_group_size(run):
    kv = run.metrics("modern")["kv_bytes_per_token_layer"]
    assert kv["4 KV heads"] == 2 * kv["2 KV heads"] == 4 * kv["1 KV head"]


def test_heads_that_do_not_divide_are_refused():
    with pytest.raises(ValueError, match="must be a multiple"):
        GroupedQueryAttention(64, 4, 3)


def test_page_shows_this_output(run, page_output):
    page_output("step2_modern", run.stdout, run.figures())
