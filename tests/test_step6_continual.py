"""Step 6: fine-tuning on new data makes the model forget the old; replay prevents it; more
phrasings of the new data generalise to a phrasing it never saw."""

import pytest


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/continual.py")


def test_new_data_alone_causes_forgetting_and_replay_prevents_it(run):
    runs = run.metrics("continual")
    alone, replay = runs["new data only"], runs["new data + 25% replay"]
    start = alone[0]["old: stories"]
    assert alone[-1]["old: stories"] > 5 * start  # forgetting
    assert replay[-1]["old: stories"] < 1.25 * start  # replay keeps the old skill
    for curve in (alone, replay):  # and both learn the new documents
        assert curve[-1]["new: entries"] < curve[0]["new: entries"] / 100


def test_augmentation_generalises_to_an_unseen_phrasing(run):
    runs = run.metrics("continual")
    augmented, single = runs["augmented (3 phrasings) + replay"], runs["new data + 25% replay"]
    assert augmented[-1]["new: unseen phrasing"] < single[-1]["new: unseen phrasing"] / 3
    assert (run.out / "continual.png").stat().st_size > 10_000


def test_page_shows_this_output(run, page_output):
    page_output("step6_continual", run.stdout, run.figures())


def test_replay_learns_the_new_documents_as_well_as_new_data_alone(run):
    """Replay costs nothing on the new data: its perplexity there ends near the one of training
    on the new data alone, while the old skill stays (the test above)."""
    runs = run.metrics("continual")
    alone, replay = runs["new data only"], runs["new data + 25% replay"]
    assert replay[-1]["new: entries"] <= 1.25 * alone[-1]["new: entries"]
