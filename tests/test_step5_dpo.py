"""Step 5: contrastive post-training. SFT on the stronger writer's answers, then DPO on
(stronger, weaker) pairs; the policy's implicit reward and the reward model both agree."""

import tempfile

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM
from trl import DPOConfig, DPOTrainer

from guide.model import guide_model_dir, load_causal_lm
from guide.scoring import completion_log_probs
from step5_alignment.dpo import dpo_loss, nll_loss
from step5_alignment.preferences import preference_pairs


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step5_alignment/dpo.py")


def test_implicit_reward_ranks_held_out_pairs(run):
    assert run.metrics("dpo")["accuracy"] >= 0.80  # the target


def test_implicit_reward_ranks_almost_every_pair_the_rule_agrees_with(run):
    """Where the rule agrees that the stronger writer's answer is better, the policy's implicit
    reward ranks the pair that way almost always, more often than over all pairs."""
    metrics = run.metrics("dpo")
    assert metrics["accuracy_where_rule_agrees"] >= 0.95
    assert metrics["accuracy_where_rule_agrees"] > metrics["accuracy"]


def test_reward_model_prefers_the_dpo_policy(run):
    metrics = run.metrics("dpo")
    assert metrics["wins"]["SFT (reference)"] >= 0.65  # the target
    assert metrics["wins"]["pre-trained"] >= 0.90
    table = metrics["table"]
    assert table["DPO"]["good day, fitting end"] >= table["SFT (reference)"]["good day, fitting end"] + 0.15
    assert table["DPO"]["well-formed"] >= table["SFT (reference)"]["well-formed"]
    assert table["SFT (reference)"]["well-formed"] > table["pre-trained"]["well-formed"]  # SFT: readable answers
    assert (run.out / "dpo.png").stat().st_size > 10_000


@pytest.mark.parametrize("sft_weight", [0.0, 1.0])
def test_dpo_loss_equals_trl(guide_model, sft_weight):
    """Our DPO loss (plus the SFT term) and DPOTrainer.compute_loss on the same batch, with a
    policy that has moved away from the reference so the loss is not just log 2."""

    tokenizer, _ = load_causal_lm()
    policy = AutoModelForCausalLM.from_pretrained(guide_model_dir())
    reference = AutoModelForCausalLM.from_pretrained(guide_model_dir()).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.02 * torch.randn_like(p))
    pairs = preference_pairs("train", 6)
    data = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    extra = dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, sft_weight]) if sft_weight else {}
    args = DPOConfig(
        output_dir=tempfile.mkdtemp(),
        use_cpu=True,
        bf16=False,
        report_to=[],
        disable_tqdm=True,
        beta=0.5,
        max_length=128,
        **extra,
    )
    trainer = DPOTrainer(model=policy, ref_model=reference, args=args, train_dataset=data, processing_class=tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(pairs))])
    policy.eval()
    with torch.no_grad():
        trl_loss = trainer.compute_loss(policy, dict(batch))
        tensors = (batch["input_ids"], batch["attention_mask"], batch["completion_mask"])
        pol, ref = completion_log_probs(policy, *tensors), completion_log_probs(reference, *tensors)
        ours, chosen_reward, rejected_reward = dpo_loss(*pol.chunk(2), *ref.chunk(2), beta=0.5)
        ours = ours + sft_weight * nll_loss(pol.chunk(2)[0], batch["completion_mask"].chunk(2)[0])
    assert abs(ours.item() - 0.6931) > 0.01  # the policy and the reference differ
    assert torch.allclose(ours, trl_loss, atol=1e-4), (ours, trl_loss)


def test_page_shows_this_output(run, page_output):
    page_output("step5_dpo", run.stdout, run.figures())
