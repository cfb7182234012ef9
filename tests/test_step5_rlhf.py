"""Step 5: GRPO against the reward model. With the KL leash the reward rises while the text
stays stories the rule scores about as it did; without it the policy games the reward model
(reward hacking)."""

import pytest

from guide.model import load_causal_lm
from step5_alignment.preferences import preference_pairs
from step5_alignment.reward_model import score, trained_reward_model
from step5_alignment.rlhf import evaluate


@pytest.fixture(scope="module")
def leashed(run_snippet, guide_model):
    return run_snippet("step5_alignment/rlhf.py")


@pytest.fixture(scope="module")
def unleashed(run_snippet, guide_model):
    return run_snippet("step5_alignment/rlhf.py", "--beta", "0")


def test_with_the_leash_reward_rises_and_kl_stays_bounded(leashed):
    history = leashed.metrics("rlhf")["history"]
    first, last = history[0], history[-1]
    assert last["reward"] >= first["reward"] + 1.5
    assert max(h["kl"] for h in history) <= 5  # nats per answer
    # What the rule measures barely moves in 60 steps, and which way it ends differs from machine
    # to machine (the run is chaotic), so the page claims no gain; but it never collapses:
    assert min(h["rule"] for h in history) >= first["rule"] - 0.5  # (-2 is text that is no story)
    assert min(h["well_formed"] for h in history) >= 0.3  # and many of the answers are stories


def test_without_the_leash_the_policy_hacks_the_reward_model(unleashed):
    history = unleashed.metrics("rlhf")["history"]
    first, last = history[0], history[-1]
    assert last["reward"] >= first["reward"] + 1.5  # the reward model is delighted...
    assert last["rule"] <= first["rule"] - 1  # ...by text the rule scores far worse than at the start:
    assert last["well_formed"] < 0.1  # almost none of it is a story any more
    assert last["kl"] > 50


def test_without_the_leash_the_policy_leaves_real_text_at_once(leashed, unleashed):
    """By the first measurement after the start the unleashed policy writes almost no stories and
    is far from the reference, while the leashed one at the same step is not; its KL keeps
    growing after that."""
    leash, free = leashed.metrics("rlhf")["history"], unleashed.metrics("rlhf")["history"]
    early = free[1]
    assert early["step"] == leash[1]["step"] < free[-1]["step"]
    assert free[0]["well_formed"] >= 0.4 and early["well_formed"] < 0.1  # from many stories to almost none
    assert early["kl"] > 10 and early["kl"] > 5 * leash[1]["kl"]
    assert free[-1]["kl"] > 2 * early["kl"]


def test_kl_estimate_is_zero_for_the_reference_itself(guide_model):
    tokenizer, policy = load_causal_lm()
    _, reference = load_causal_lm()

    rm_tokenizer, reward_model = trained_reward_model()
    prompts = sorted({p["prompt"] for p in preference_pairs("test", 8)})
    reward = lambda p, c: score(reward_model, rm_tokenizer, p, c).tolist()  # noqa: E731
    assert evaluate(policy, reference, reward, tokenizer, prompts)["kl"] == pytest.approx(0, abs=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--beta", "-1"], "--beta must be 0 or more"), (["--steps", "0"], "--steps must be at least 1")],
)
def test_bad_flags_say_what_is_wrong(refuses, tmp_path, args, message):
    proc = refuses("step5_alignment/rlhf.py", *args, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_page_shows_these_outputs(leashed, unleashed, page_output):
    page_output("step5_rlhf", leashed.stdout, leashed.figures())
    page_output("step5_rlhf_no_leash", unleashed.stdout, unleashed.figures())
