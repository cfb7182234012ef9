"""Step 6: uncertainty sampling reaches the target accuracy with fewer labels than random."""

import pytest


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/active_learning.py")


def test_uncertainty_sampling_needs_fewer_labels(run):
    needed = run.metrics("active_learning")["needed"]
    assert needed["uncertainty"] is not None and needed["random"] is not None
    assert needed["uncertainty"] <= needed["random"] / 2
    assert (run.out / "active_learning.png").stat().st_size > 10_000


def test_both_start_from_the_same_random_labels(run):
    mean = run.metrics("active_learning")["mean"]
    assert mean["random"][0] == mean["uncertainty"][0]


def test_a_bad_target_says_what_to_pass(refuses, tmp_path):
    proc = refuses("step6_evaluation/active_learning.py", "--target", "95", cwd=tmp_path)
    assert proc.returncode == 2 and "between 0 and 1" in proc.stderr


def test_page_shows_this_output(run, page_output):
    page_output("step6_active_learning", run.stdout, run.figures())
