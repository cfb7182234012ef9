"""Step 5: RL with verifiable rewards: a checker as the reward raises held-out accuracy after
a warm start, the scratchpad buys accuracy for tokens, and the strict checker resists hacks."""

import itertools
import math

import pytest

from step5_alignment.rlvr import FORMATS, HACKS, checker, lenient_checker, pass_at_k, problems, target


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step5_alignment/rlvr.py")


@pytest.fixture(scope="module")
def results(run):
    return run.metrics("rlvr")["results"]


def test_grpo_with_the_checker_raises_held_out_exact_match(results):
    warm = results["answer at once | warm start (SFT)"]["exact match"]
    for beta in ("0.04", "0"):
        assert results[f"answer at once | + GRPO, beta={beta}"]["exact match"] >= warm + 0.15
    with_kl, without = (results[f"answer at once | + GRPO, beta={b}"]["exact match"] for b in ("0.04", "0"))
    assert abs(with_kl - without) < 0.15  # the page: "a similar accuracy" with or without the KL term
    think = results["think, then answer | warm start (SFT)"]["exact match"]
    assert results["think, then answer | + GRPO, beta=0.04"]["exact match"] >= think


def test_rl_raises_pass_at_1_more_than_pass_at_16(results):
    warm, tuned = results["answer at once | warm start (SFT)"], results["answer at once | + GRPO, beta=0.04"]
    assert tuned["pass@1"] - warm["pass@1"] > tuned["pass@16"] - warm["pass@16"] + 0.05
    assert warm["pass@16"] > warm["exact match"] + 0.3  # the answers were within reach of sampling


def test_the_scratchpad_buys_accuracy_for_tokens(results):
    once, think = results["answer at once | warm start (SFT)"], results["think, then answer | warm start (SFT)"]
    assert think["exact match"] >= once["exact match"] + 0.2
    assert think["tokens per answer"] > 3 * once["tokens per answer"]
    assert think["lenient pays, strict refuses"] > 0  # the page quotes it: a hackable checker pays


def test_every_policy_stays_near_its_warm_start(results):
    kls = [r["kl"] for stage, r in results.items() if "GRPO" in stage]
    assert len(kls) == 3 and all(0 <= kl < 3 for kl in kls)


def test_the_checker_pays_right_answers_in_the_format_and_no_hack():
    train, test = problems()
    assert len(train) == 800 and len(test) == 200 and not set(train) & set(test)
    for form, prompt in itertools.product(FORMATS, train[:50]):
        assert checker(prompt, target(prompt, form), form) == 1.0
        assert lenient_checker(prompt, target(prompt, form)) == 1.0
    assert checker("3+8+5=", " 17", "answer at once") == 0.0
    for text in HACKS.values():
        for form in FORMATS:
            assert checker("3+8+5=", text, form) == 0.0
        assert lenient_checker("3+8+5=", text) == 1.0
    assert lenient_checker("3+8+5=", " 116") == 0.0  # the number itself, not its digits


def test_pass_at_k_is_the_chance_one_of_k_samples_is_right():
    n, c = 6, 2
    draws = list(itertools.combinations(range(n), 3))  # samples 0 and 1 are the right ones
    assert math.isclose(pass_at_k(n, c, 3), sum(0 in d or 1 in d for d in draws) / len(draws))
    assert pass_at_k(16, 0, 16) == 0.0 and pass_at_k(16, 1, 16) == 1.0 and pass_at_k(16, 4, 1) == 0.25


def test_the_page_shows_this_output(run, page_output):
    page_output("step5_rlvr", run.stdout, run.figures())


def test_bad_step_counts_are_refused(refuses, tmp_path):
    proc = refuses("step5_alignment/rlvr.py", "--rl-steps", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "--rl-steps must be at least 1" in proc.stderr
