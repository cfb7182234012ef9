"""Step 6: retrieval turns guesses about unseen people into answers; the groundedness check
withholds the answers the passages do not back."""

import random

import pytest

from step6_evaluation.rag import grounded, misspell, passage


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/rag.py")


def test_retrieval_adds_at_least_30_points_of_answer_accuracy(run):
    answers = run.metrics("rag")["answers"]
    without = answers["no retrieval"]["accuracy"]
    assert without < 0.25  # about chance: the model never read about these people
    for name in ("BM25, top 1", "MiniLM embeddings, top 1"):
        assert answers[name]["accuracy"] >= without + 0.30  # the target


def test_the_groundedness_check_catches_wrong_answers(run):
    answers = run.metrics("rag")["answers"]
    assert answers["no retrieval"]["withheld"] == 1.0  # nothing retrieved, nothing backed
    assert answers["BM25, top 1"]["wrong_caught"] >= 0.9
    assert answers["BM25, top 1"]["withheld"] < 0.5


def test_the_reader_learns_to_copy_in_a_late_drop_of_its_loss(run):
    """The page: the loss stalls on a plateau, then falls again as the reader learns to copy.
    The run is chaotic across machines and the plateau ends at a different step on each, so no
    step is named: the plateau is the first stall (two 100-step means within 5%) once the loss
    has fallen from its start, and the loss must end well below it. A reader that never learns
    to copy stays on the plateau."""
    losses = run.metrics("rag")["losses"]  # mean of each 100 steps
    stalls = (i for i in range(len(losses) - 1) if losses[i] < 0.9 * losses[0] and losses[i + 1] > 0.95 * losses[i])
    stall = next(stalls, None)
    assert stall is not None and stall < len(losses) - 2, f"no plateau before the end: {losses}"
    plateau = (losses[stall] + losses[stall + 1]) / 2
    assert losses[-1] < 0.8 * plateau, f"the loss never fell below its plateau of {plateau:.2f}: {losses}"


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


def test_a_bad_k_says_why(refuses, tmp_path):
    proc = refuses("step6_evaluation/rag.py", "--k", "9", cwd=tmp_path)
    assert proc.returncode == 2 and "128-token context" in proc.stderr


def test_page_shows_this_output(run, page_output):
    page_output("step6_rag", run.stdout, run.figures())


def test_the_right_passage_adds_far_more_than_the_30_points_aimed_for(run):
    answers = run.metrics("rag")["answers"]
    assert answers["BM25, top 1"]["accuracy"] - answers["no retrieval"]["accuracy"] >= 0.45


def test_a_second_passage_makes_the_reader_copy_from_the_wrong_person(run):
    """BM25's first passage is always the right one (its recall@1 is tested in this module), so
    what a second passage costs is answers copied from the other person: more than noise, at
    least 3 of the 120 questions."""
    answers = run.metrics("rag")["answers"]
    assert answers["BM25, top 2"]["accuracy"] <= answers["BM25, top 1"]["accuracy"] - 0.025
