"""Step 1: the first taste builds a model that has learned its text, and shows the pipeline."""

import re
from pathlib import Path

import pytest

from testing_utils import refused


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return tmp_path_factory.mktemp("first_taste_model")


@pytest.fixture(scope="module")
def taste(run_snippet, saved):
    return run_snippet("step1_basics/first_taste.py", "--save", str(saved))


def test_training_fits_the_text(taste):
    loss = float(re.search(r"final training loss ([\d.]+)", taste.stdout).group(1))
    assert loss < 1.0, f"the tiny model should fit its 1.4 kB text (loss {loss})"


def test_next_token_is_learned(taste):
    result = taste.metrics("first_taste")
    assert result["tokens"] == ["The", "Ġcat", "Ġsat", "Ġon", "Ġthe"]
    assert result["top_token"] == " mat"
    assert result["top_prob"] > 0.5
    assert result["continuation"].startswith("The cat sat on the mat")


def test_page_shows_this_output(taste, saved, page_output):
    # the page runs it with --save my-tiny-model
    page_output("step1_first_taste", taste.stdout.replace(str(saved), "my-tiny-model"), taste.figures())


def test_the_figures_the_page_quotes_are_the_ones_it_shows(taste):
    """The prose renders the parameter count and the text's size from the metrics: they must be
    the model the output above built and the text it learned from."""
    result = taste.metrics("first_taste")
    printed = int(re.search(r"built a ([\d,]+)-parameter", taste.stdout).group(1).replace(",", ""))
    assert result["parameters"] == printed
    corpus = Path(__file__).parents[1] / "snippets" / "data" / "first_taste.txt"
    assert result["corpus_bytes"] == corpus.stat().st_size


def test_from_pretrained_local_folder(saved, tmp_path, taste, example):
    """--model takes a folder written by save_pretrained: the same path a Hub id takes."""
    proc = example("step1_basics/first_taste.py", "--model", str(saved), cwd=tmp_path)
    assert f"loaded {saved}" in proc.stdout
    assert repr(taste.metrics("first_taste")["continuation"]) in proc.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "/no/such/folder"], "could not load a model from '/no/such/folder'"),
        (["--model", "not-a-real-org/not-a-model"], "HF_HUB_OFFLINE=1 is set"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--prompt", "   "], "--prompt must contain some text"),
    ],
)
def test_bad_input_gets_a_clear_message(tmp_path, args, message, refuses):
    refused(refuses("step1_basics/first_taste.py", *args, cwd=tmp_path), message)
