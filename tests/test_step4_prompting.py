"""Step 4: hard prompts, in-context learning, prompt and prefix tuning, measured honestly."""

import pytest


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step4_finetuning/prompting.py")


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
    page_output("step4_prompting", run.stdout, run.figures())


def test_the_models_own_words_beat_a_format_it_never_read_by_far(run):
    r = rows(run)
    own, question = r["hard prompt, the model's own words (zero-shot)"], r["hard prompt, as a question (zero-shot)"]
    assert own["accuracy"] >= question["accuracy"] + 0.25


def test_a_question_examples_and_soft_prompts_do_no_better_than_the_more_common_answer(run):
    """The page: asked "Sentiment:", with two solved examples or through 8 trained virtual tokens,
    the model is no better than always giving the more common label of the test stories."""
    majority = run.metrics("prompting")["majority"]
    r = rows(run)
    for name in (
        "hard prompt, as a question (zero-shot)",
        "in-context, 2 examples (few-shot)",
        "prompt tuning, 8 virtual tokens",
        "prefix tuning, 8 virtual tokens",
    ):
        assert r[name]["accuracy"] < majority + 0.05, name
