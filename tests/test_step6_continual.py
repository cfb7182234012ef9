"""Step 6: fine-tuning on new data makes the model forget the old; replay prevents it; more
phrasings of the new data generalise to a phrasing it never saw."""

import pytest

from conftest import TIME_SCALE


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/continual.py", timeout=240)


def test_new_data_alone_causes_forgetting_and_replay_prevents_it(run):
    runs = run.metrics("continual")
    alone, replay = runs["new data only"], runs["new data + 25% replay"]
    start = alone[0]["old: stories"]
    assert alone[-1]["old: stories"] > 5 * start  # forgetting
    assert replay[-1]["old: stories"] < 1.25 * start  # replay keeps the old skill
    for curve in (alone, replay):  # and both learn the new documents
        assert curve[-1]["new: entries"] < curve[0]["new: entries"] / 100
    assert run.seconds < 40 * TIME_SCALE


def test_augmentation_generalises_to_an_unseen_phrasing(run):
    runs = run.metrics("continual")
    augmented, single = runs["augmented (3 phrasings) + replay"], runs["new data + 25% replay"]
    assert augmented[-1]["new: unseen phrasing"] < single[-1]["new: unseen phrasing"] / 3
    assert (run.out / "continual.png").stat().st_size > 10_000


def test_page_shows_this_output(run, page_output):
    page_output("step6_continual", run.stdout)


def test_page_prose_matches_the_run(run):
    from conftest import REPO

    page = " ".join((REPO / "docs" / "step-6-evaluation.md").read_text(encoding="utf-8").split())
    runs = run.metrics("continual")
    alone, replay = runs["new data only"], runs["new data + 25% replay"]
    assert "the model learns the new documents as well and keeps the old" in page
    assert replay[-1]["new: entries"] <= 1.25 * alone[-1]["new: entries"]
