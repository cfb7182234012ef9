"""Step 2: the sparse mixture-of-experts layer equals Mixtral's, output and balancing loss."""

import pytest
import torch

from step2_architecture.moe import SparseMoE, load_balancing_loss, max_gaps

TOL = 1e-5


@pytest.fixture(scope="module")
def run(run_snippet):
    return run_snippet("step2_architecture/moe.py")


def test_the_layer_and_its_loss_equal_mixtrals(run):
    for kind, gaps in run.metrics("moe")["gaps"].items():
        assert all(gap < TOL for gap in gaps.values()), (kind, gaps)


@pytest.mark.parametrize("top_k", [1, 2, 3])
@pytest.mark.parametrize("n_experts", [4, 8])
def test_other_shapes_match_too(top_k, n_experts):
    torch.manual_seed(top_k * 10 + n_experts)
    assert max(max_gaps(n_experts=n_experts, top_k=top_k, tokens=(2, 7)).values()) < TOL


def test_each_token_uses_only_its_top_k_experts():
    torch.manual_seed(0)
    moe = SparseMoE(16, 32, n_experts=4, top_k=1)
    x = torch.randn(1, 5, 16)
    out = moe(x)
    chosen = moe.router_logits.argmax(-1)
    for t in range(5):  # top-1: the output is exactly that expert's (its weight renormalises to 1)
        assert torch.allclose(out[0, t], moe.experts[chosen[t]](x[0, t]), atol=1e-6)


def test_the_balancing_loss_is_smallest_when_the_load_is_even():
    even = torch.zeros(64, 4)  # every expert equally likely
    skewed = torch.zeros(64, 4)
    skewed[:, 0] = 5.0  # every token prefers expert 0
    assert load_balancing_loss(even, 1) < load_balancing_loss(skewed, 1)
    assert load_balancing_loss(skewed, 1) > 3.0  # close to n_experts when one expert takes all


def test_active_parameters_grow_with_top_k_not_with_experts(run):
    m = run.metrics("moe")
    assert m["total"] > 7.9 * m["dense"] and m["active"] < 2.1 * m["dense"]


def test_page_shows_this_output(run, page_output):
    page_output("step2_moe", run.stdout, run.figures())
