"""Step 6: task metrics, and the ways each one misleads."""

import pytest

from step6_evaluation.metrics import report


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/metrics.py")


def test_accuracy_flatters_a_useless_model_on_a_skewed_test_set(run):
    reports = run.metrics("metrics")["reports"]
    lazy, model = reports["skewed test set, always 'good day'"], reports["skewed test set, the model"]
    assert lazy["accuracy"] >= 0.9 and lazy["recall_bad_days"] == 0 and lazy["macro_f1"] < 0.5
    assert model["macro_f1"] > lazy["macro_f1"] + 0.4
    assert reports["balanced test set, the model"]["accuracy"] >= 0.9
    assert (run.out / "metrics.png").stat().st_size > 10_000


def test_report_matches_hand_counts():
    r = report([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])
    assert r["confusion"] == [[1, 1], [1, 2]]
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    assert r["recall_bad_days"] == pytest.approx(1 / 2) and r["accuracy"] == pytest.approx(3 / 5)


def test_perplexity_separates_stories_from_noise(run):
    ppl = run.metrics("metrics")["perplexity"]
    assert ppl["held-out stories"] < 5 < 1000 < ppl["stories, words shuffled"] < ppl["spam and garbled noise"]


def test_bleu_rewards_form_over_meaning(run):
    overlap = run.metrics("metrics")["overlap"]
    same, paraphrase = overlap["the reference itself"], overlap["same meaning, new words"]
    flipped = overlap["one word changed, meaning flipped"]
    assert same["BLEU"] == pytest.approx(100)
    assert flipped["BLEU"] > 70 > 10 > paraphrase["BLEU"]  # the wrong answer scores far higher
    assert flipped["chrF"] > paraphrase["chrF"]


def test_page_shows_this_output(run, page_output):
    page_output("step6_metrics", run.stdout, run.figures())
