"""Step 6: fine-tuning on new data makes the model forget the old; replay prevents it; more
phrasings of the new data generalise to a phrasing it never saw; and what 80 steps teach the
guide's model is the format of an entry, not the facts in it."""

import math

import pytest

from guide.model import guide_model_dir, load_causal_lm
from guide.scoring import choose, log_prob
from guide.world import JOBS, PETS, TOWNS


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/continual.py")


def test_new_data_alone_causes_forgetting_and_replay_prevents_it(run):
    runs = run.metrics("continual")["curves"]
    alone, replay = runs["new data only"], runs["new data + 25% replay"]
    start = alone[0]["old: held-out stories"]  # stories from the test split: pre-training never saw them
    assert alone[-1]["old: held-out stories"] > 5 * start  # forgetting
    assert replay[-1]["old: held-out stories"] < 1.25 * start  # replay keeps the old skill
    for curve in (alone, replay):  # and both learn the new documents
        assert curve[-1]["new: trained entries"] < curve[0]["new: trained entries"] / 100


def test_augmentation_generalises_to_an_unseen_phrasing(run):
    runs = run.metrics("continual")["curves"]
    augmented, single = runs["augmented (3 phrasings) + replay"], runs["new data + 25% replay"]
    assert augmented[-1]["new: unseen phrasing"] < single[-1]["new: unseen phrasing"] / 3
    assert (run.out / "continual.png").stat().st_size > 10_000


def test_page_shows_this_output(run, page_output):
    page_output("step6_continual", run.stdout, run.figures())


def test_replay_learns_the_new_documents_as_well_as_new_data_alone(run):
    """Replay costs nothing on the new data: its perplexity there ends near the one of training
    on the new data alone, while the old skill stays (the test above)."""
    runs = run.metrics("continual")["curves"]
    alone, replay = runs["new data only"], runs["new data + 25% replay"]
    assert replay[-1]["new: trained entries"] <= 1.25 * alone[-1]["new: trained entries"]


def test_the_model_learns_the_format_of_an_entry_not_the_facts_in_it(run):
    """What the page says plainly: the entries of people it trained on are no easier for the
    model than the entries of people it never saw, and asked for a trained person's job, town
    or pet it does no better than chance (1 in 12, 1 in 12, 1 in 7) plus three standard
    deviations of 60 guesses. A model that had learnt even a fifth of the jobs would fail this,
    and the page would have to say so."""
    metrics = run.metrics("continual")
    for curve in metrics["curves"].values():
        end = curve[-1]
        assert end["new: trained entries"] > end["new: other people's entries"] / 1.5
    chance = {"job": 1 / len(JOBS), "town": 1 / len(TOWNS), "pet": 1 / len(PETS)}
    for name, facts in metrics["recall"].items():
        for fact, p in chance.items():
            assert facts[fact] < p + 3 * math.sqrt(p * (1 - p) / 60), (name, fact, facts)


def test_choose_picks_what_log_prob_ranks_first(guide_model):
    """guide.scoring.choose, which the recall above uses, scores all the options in one padded
    batch; it must pick the option that log_prob, one option at a time, finds most likely."""
    tokenizer, model = load_causal_lm(guide_model_dir(), log=lambda _: None)
    for prefix, options in [
        ("Mara Lane is a baker. Mara Lane lives in", ["Ashford", "Brookvale", "Cobble Hill"]),
        ("The day was good. Sam", ["was happy.", "was upset.", "went to the market and was happy."]),
        ("Registry entry. Name: Ana Moss. Job:", ["baker", "teacher", "nurse", "engineer"]),
        ("Mara was happy. " * 60 + "Ana Moss lives in", ["Ashford", "Cobble Hill"]),  # longer than the context
    ]:
        for ending in (" {}", " {}."):  # the quiz's endings, and the RAG reader's
            scores = [log_prob(model, tokenizer, prefix, ending.format(o)) for o in options]
            assert choose(model, tokenizer, prefix, options, ending) == options[scores.index(max(scores))]
