"""Step 6: the counterfactual probe finds exactly the world's skewed jobs, and CDA closes the gap."""

import pytest

from guide.world import JOBS, SKEW


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/bias.py")


def test_the_probe_flags_exactly_the_skewed_jobs(run):
    plain = run.metrics("bias")["trained on the bios"]
    assert sorted(plain["flagged"]) == sorted(SKEW)
    for job, group in SKEW.items():  # the sign follows the skew: "she" jobs gain from "she"
        assert (plain["gaps"][job] > 0) == (group == "she")
    assert all(abs(plain["gaps"][j]) < 0.05 for j in JOBS if j not in SKEW)


def test_counterfactual_augmentation_removes_the_gap(run):
    cda = run.metrics("bias")["with swapped copies (CDA)"]
    assert cda["flagged"] == [] and max(abs(g) for g in cda["gaps"].values()) < 0.01
    # the only clue to the job in these bios was the stereotype: without it, chance
    assert cda["accuracy"] < run.metrics("bias")["trained on the bios"]["accuracy"]


def test_page_shows_this_output(run, page_output):
    page_output("step6_bias", run.stdout, run.figures())


def test_with_the_stereotype_gone_accuracy_falls_to_chance(run):
    """The page: these bios carry no clue to the job but the stereotype. The plain model beats
    chance through it; with the stereotype taken away by CDA, what is left is a guess."""
    results = run.metrics("bias")
    chance = 1 / len(JOBS)
    assert results["trained on the bios"]["accuracy"] > chance + 0.03
    assert results["with swapped copies (CDA)"]["accuracy"] <= chance + 0.02
