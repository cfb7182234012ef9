"""Step 5: the reward model learns the annotators' preferences and ranks held-out pairs."""

import tempfile

import pytest
import torch
from datasets import Dataset
from trl import RewardConfig, RewardTrainer

from step5_alignment.preferences import annotate, preference_pairs
from step5_alignment.reward_model import bradley_terry_loss, load_reward_model, score


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step5_alignment/reward_model.py")


@pytest.fixture(scope="module")
def run_trl(run_snippet, guide_model):
    return run_snippet("step5_alignment/reward_model.py", "--trainer", "trl")


def test_it_ranks_held_out_pairs(run):
    metrics = run.metrics("reward_model")
    assert metrics["accuracy"] >= 0.90  # the target
    assert all(acc >= 0.75 for acc in metrics["per_kind"].values())


def test_learning_shows_a_curve_not_an_instant_answer(run):
    curve = {c["step"]: c for c in run.metrics("reward_model")["curve"]}
    assert curve[0]["accuracy"] < 0.65  # a fresh head is near chance
    # the page: the day is learned within 20 steps, then a plateau, then the ending's fit
    assert curve[20]["per_kind"]["good vs bad day"] >= 0.95
    assert curve[120]["accuracy"] - curve[20]["accuracy"] < 0.05
    for kind in ("fitting vs clashing ending", "bad day, fitting vs clashing"):
        assert curve[120]["per_kind"][kind] < 0.7 and curve[200]["per_kind"][kind] >= 0.85
    assert (run.out / "reward_model.png").stat().st_size > 10_000


def test_trl_reward_trainer_reaches_the_target_too(run_trl):
    assert run_trl.metrics("reward_model")["accuracy"] >= 0.90


def test_bradley_terry_loss_equals_trl_reward_trainer(guide_model):
    """The loss written out on the page and TRL's RewardTrainer.compute_loss on one batch, and
    our score() reads the reward at the same place TRL's batch does (the appended eos)."""

    torch.manual_seed(0)
    tokenizer, model = load_reward_model()
    pairs = annotate(preference_pairs("train", 8))
    data = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    args = RewardConfig(output_dir=tempfile.mkdtemp(), use_cpu=True, bf16=False, report_to=[], disable_tqdm=True)
    trainer = RewardTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(pairs))])
    model.eval()
    with torch.no_grad():
        trl_loss = trainer.compute_loss(model, dict(batch))
        prompts = [p["prompt"] for p in pairs]
        chosen = score(model, tokenizer, prompts, [p["chosen"] for p in pairs])
        rejected = score(model, tokenizer, prompts, [p["rejected"] for p in pairs])
        ours = bradley_terry_loss(chosen, rejected)
        trl_rewards = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.squeeze(-1)
    assert torch.allclose(torch.cat([chosen, rejected]), trl_rewards, atol=1e-5)
    assert torch.allclose(ours, trl_loss, atol=1e-6), (ours, trl_loss)
    # and it is the Bradley-Terry negative log-likelihood
    assert torch.isclose(ours, -torch.log(torch.sigmoid(chosen - rejected)).mean(), atol=1e-6)


def test_only_reward_differences_matter():
    a, b = torch.randn(16), torch.randn(16)
    assert torch.isclose(bradley_terry_loss(a, b), bradley_terry_loss(a + 3.0, b + 3.0))
    assert bradley_terry_loss(a + 5, a) < bradley_terry_loss(a, a) < bradley_terry_loss(a, a + 5)


def test_a_missing_reward_model_folder_says_what_to_do(refuses, tmp_path):
    proc = refuses("step5_alignment/rlhf.py", "--reward-model", str(tmp_path / "nope"), cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "reward_model.py --save" in proc.stderr


def test_page_shows_these_outputs(run, run_trl, page_output):
    page_output("step5_reward_model", run.stdout, run.figures())
    page_output("step5_reward_model_trl", run_trl.stdout, run_trl.figures())
