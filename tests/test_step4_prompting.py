"""Step 4: hard prompts, in-context learning, prompt and prefix tuning, measured honestly."""

import pytest


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step4_finetuning/prompting.py", timeout=240)


def rows(run):
    return run.metrics("prompting")["rows"]


def test_phrasing_the_question_in_the_models_own_words_works_zero_shot(run):
    r = rows(run)
    assert r["hard prompt, the model's own words (zero-shot)"]["accuracy"] >= 0.9
    # the same question in a format the model never read is close to guessing: phrasing matters
    assert r["hard prompt, as a question (zero-shot)"]["accuracy"] <= 0.65


def test_soft_prompts_train_a_few_thousand_parameters_and_their_loss_falls(run):
    r = rows(run)
    prompt, prefix = r["prompt tuning, 8 virtual tokens"], r["prefix tuning, 8 virtual tokens"]
    assert prompt["trainable"] == 8 * 128  # 8 input embeddings of width 128
    assert prefix["trainable"] == 8 * 2 * 2 * 128  # 8 positions x 2 layers x (key, value) x 128
    for method in (prompt, prefix):
        first, last = method["loss"]
        assert last < first / 3


def test_page_shows_this_output(run, page_output):
    page_output("step4_prompting", run.stdout)


def test_page_prose_matches_the_run(run):
    from conftest import REPO

    page = " ".join((REPO / "docs" / "step-4-finetuning.md").read_text(encoding="utf-8").split())
    r = rows(run)
    assert "the pre-trained model classifies 95% of stories" in page
    assert round(r["hard prompt, the model's own words (zero-shot)"]["accuracy"], 2) == 0.95
    majority = r["hard prompt, as a question (zero-shot)"]["accuracy"]
    assert "(56% is the share of the more common label in these 200 stories)" in page
    assert round(majority, 2) == 0.56
    assert "not to the point of telling the stories apart in 60 steps" in page
    assert all(abs(m["accuracy"] - majority) < 0.05 for k, m in r.items() if "tuning" in k)
