"""Step 3: causal and masked LM on the same data, the same size, the same steps."""

import pytest


@pytest.fixture(scope="module")
def run(run_snippet):
    return run_snippet("step3_pretraining/objectives.py")


def test_causal_lm_gets_a_loss_at_every_position_masked_at_about_15_percent(run):
    m = run.metrics("objectives")
    assert m["causal"]["supervised_share"] > 0.95
    assert 0.10 < m["masked"]["supervised_share"] < 0.20


def test_causal_model_learns_the_template_in_150_steps(run):
    m = run.metrics("objectives")
    assert m["causal"]["loss"] < 1.5
    assert m["continuation"].startswith("Priya Hale is a ") and " in " in m["continuation"]


def test_page_shows_this_output(run, page_output):
    page_output("step3_objectives", run.stdout, run.figures())
