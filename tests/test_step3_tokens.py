"""Step 3: the guide's tokenizer is cheap on its own world and dear on everything else."""

import pytest

from step3_pretraining.tokens import SAMPLES


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step3_pretraining/tokens.py")


def test_text_outside_the_world_costs_far_more_tokens_per_word(run):
    t = run.metrics("tokens")
    assert t["other English prose"]["per_unit"] > 2 * t["the world's stories"]["per_unit"]


def test_japanese_falls_back_to_one_token_per_byte(run):
    t = run.metrics("tokens")["Japanese"]
    assert t["tokens"] == len(SAMPLES["Japanese"].encode())  # no merge ever learned for these bytes


def test_digits_come_one_at_a_time(run):
    assert "'2', '0', '2', '5'" in run.stdout


def test_page_shows_this_output(run, page_output):
    page_output("step3_tokens", run.stdout, run.figures())
