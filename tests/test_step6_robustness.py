"""Step 6: perturbations that keep the answer still move the model; the table shows by how much."""

import random

import pytest

from step6_evaluation.robustness import distractor, planted_ending, swaps, typos


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/robustness.py")


def test_each_perturbation_costs_what_the_page_says(run):
    table = run.metrics("robustness")
    base = table["none"]["accuracy"]
    assert base >= 0.9
    assert table["typos (1 word in 10)"]["accuracy"] < base - 0.1
    assert table["letter swaps (1 word in 10)"]["accuracy"] < base - 0.1
    assert abs(table["distractor sentence"]["accuracy"] - base) < 0.05
    assert table["a planted ending (priming)"]["accuracy"] < 0.6  # reading the ending makes it likelier


def test_perturbations_change_form_not_answer():
    rng = random.Random(0)
    story = "Mara Lane is a nurse in Ashford. On Monday, the patients brought flowers to say thank you."
    assert typos(story, rng, rate=1.0) != story and len(typos(story, rng).split()) == len(story.split())
    assert sorted(swaps(story, rng, rate=1.0)) == sorted(story)  # same letters, other order
    assert distractor(story, rng).endswith("the patients brought flowers to say thank you.")
    assert planted_ending(story, rng, "Mara").startswith(story)


def test_page_shows_this_output(run, page_output):
    page_output("step6_robustness", run.stdout, run.figures())


def test_a_planted_ending_flips_most_answers_and_a_distractor_few(run):
    table = run.metrics("robustness")
    assert table["a planted ending (priming)"]["flipped"] > 0.5
    assert table["distractor sentence"]["flipped"] < 0.1
