"""Step 6: retrieval turns guesses about unseen people into answers; the groundedness check
withholds the answers the passages do not back."""

import random

import pytest

from conftest import TIME_SCALE
from step6_evaluation.rag import grounded, misspell, passage


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/rag.py", timeout=300)


def test_retrieval_adds_at_least_30_points_of_answer_accuracy(run):
    answers = run.metrics("rag")["answers"]
    without = answers["no retrieval"]["accuracy"]
    assert without < 0.25  # about chance: the model never read about these people
    for name in ("BM25, top 1", "MiniLM embeddings, top 1"):
        assert answers[name]["accuracy"] >= without + 0.30  # the target
    assert run.seconds < 75 * TIME_SCALE


def test_the_groundedness_check_catches_wrong_answers(run):
    answers = run.metrics("rag")["answers"]
    assert answers["no retrieval"]["withheld"] == 1.0  # nothing retrieved, nothing backed
    assert answers["BM25, top 1"]["wrong_caught"] >= 0.9
    assert answers["BM25, top 1"]["withheld"] < 0.5


def test_the_reader_learns_to_copy_in_a_late_drop_of_its_loss(run):
    losses = run.metrics("rag")["losses"]  # mean of each 100 steps
    assert losses[5] > 0.9 * losses[3]  # the page: a plateau...
    assert losses[-1] < 0.7 * losses[5]  # ...then the loss falls again


def test_both_retrievers_find_exact_names_and_embeddings_survive_typos_better(run):
    recall = run.metrics("rag")["recall"]
    assert recall["BM25"]["1"] == recall["MiniLM embeddings"]["1"] == 1.0
    assert recall["MiniLM embeddings, misspelt names"]["1"] > recall["BM25, misspelt names"]["1"]
    assert recall["BM25, misspelt names"]["1"] < 0.5


def test_grounded_matches_whole_words_only():
    assert grounded("nurse", ["Mara Lane is a nurse."]) and not grounded("nurse", [])
    assert not grounded("cat", ["Mara Lane has a caterpillar."])


def test_misspelt_names_keep_the_first_name_and_differ():
    rng = random.Random(0)
    typed = misspell("Noah Vale", rng)
    assert typed != "Noah Vale" and typed.startswith("Noah ") and sorted(typed) == sorted("Noah Vale")
    assert "is a baker" in passage({"name": "A B", "job": "baker", "town": "T", "pet": "cat", "pet_name": "Z"})


def test_a_bad_k_says_why(example, tmp_path):
    proc = example("step6_evaluation/rag.py", "--k", "9", cwd=tmp_path, expect_ok=False)
    assert proc.returncode == 2 and "128-token context" in proc.stderr


def test_page_shows_this_output(run, page_output):
    page_output("step6_rag", run.stdout)


def test_page_prose_matches_the_run(run):
    from conftest import REPO

    page = " ".join((REPO / "docs" / "step-6-evaluation.md").read_text(encoding="utf-8").split())
    answers = run.metrics("rag")["answers"]
    assert "accuracy rises by far more than the 30 points we aimed for" in page
    assert answers["BM25, top 1"]["accuracy"] - answers["no retrieval"]["accuracy"] >= 0.45
    assert "With two passages in the prompt instead of one it sometimes copies from the wrong person" in page
    assert answers["BM25, top 2"]["accuracy"] < answers["BM25, top 1"]["accuracy"]
    assert "Both retrievers find exact names every time; misspelt names separate them." in page
