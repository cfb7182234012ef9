"""Step 4: our from-scratch LoRA layer is PEFT's LoRA, given the same A and B."""

import pytest
import torch
from torch import nn

from step4_finetuning.lora_scratch import LoRALinear, compare_with_peft


@pytest.mark.parametrize("r", [1, 4, 8])
def test_equal_to_peft_with_the_same_a_and_b(r):
    result = compare_with_peft(r=r, alpha=2 * r, seed=r)
    assert result["max_gap"] < 1e-6
    assert result["merged_gap"] < 1e-4


def test_starts_as_the_base_layer_and_trains_only_a_and_b():
    torch.manual_seed(0)
    base = nn.Linear(16, 8)
    lora = LoRALinear(base, r=4, alpha=8)
    x = torch.randn(3, 16)
    assert torch.equal(lora(x), base(x))  # B = 0 at the start
    assert [n for n, p in lora.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]
    lora(x).sum().backward()
    assert base.weight.grad is None and lora.lora_B.grad.abs().sum() > 0


def test_merged_layer_computes_the_same_function():
    torch.manual_seed(1)
    lora = LoRALinear(nn.Linear(16, 8), r=4, alpha=8)
    nn.init.normal_(lora.lora_B)
    x = torch.randn(3, 16)
    assert torch.allclose(lora.merged()(x), lora(x), atol=1e-6)


@pytest.fixture(scope="module")
def run(run_snippet):
    return run_snippet("step4_finetuning/lora_scratch.py")


def test_script_reports_parity(run, page_output):
    assert run.metrics("lora_scratch")["max_gap"] < 1e-6
    page_output("step4_lora_scratch", run.stdout, run.figures())
