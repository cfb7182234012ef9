"""Step 5: preference data built from the world with a stated rule, labelled by noisy annotators."""

import random

import pytest

from guide.rule import judge
from step5_alignment.preferences import KINDS, annotate, broken, preference_pairs


@pytest.fixture(scope="module")
def run(run_snippet):
    return run_snippet("step5_alignment/preferences.py")


def test_the_rule_scores_the_day_then_the_ending():
    good, bad = "felt proud", "was upset"
    assert judge(" On Monday, the diners brought flowers to say thank you. Ana " + good + ".") == 1.5
    assert judge(" On Monday, the diners brought flowers to say thank you. Ana " + bad + ".") == 0.5
    assert judge(" On Monday, the diners left without paying. Ana " + bad + ".") == -0.5
    assert judge(" On Monday, the diners left without paying. Ana " + good + ".") == -1.5
    # a detail about the pet may come first; anything else is not a story
    assert judge(" She has a cat called Luna. On Monday, the diners left without paying. Ana was upset.") == -0.5
    assert judge(" On Monday, the diners left without paying.") == -2
    assert judge(" On Monday, the diners left left without paying paying paying. Ana was upset. Ana") == -2


def test_each_blank_takes_only_the_worlds_words():
    """A post-training sample that a rule with a catch-all in each blank (`.+?`) called a good
    story: the blank for what the job makes holds "the best catalogues"."""
    sample = (
        " On Monday, the town council gave her a prize for the best the best catalogues in Ashford. Amara was happy."
    )
    assert judge(sample) == -2
    assert judge(sample.replace("the best the best", "the best")) == 1.5
    assert judge(" On Monday, a fire broke out at the moon, and the bread was ruined. Amara was upset.") == -2
    assert judge(" He has a dragon called Luna. On Monday, the diners left without paying. Ana was upset.") == -2


def test_pairs_cover_every_kind_and_held_out_people_are_new():
    train, test = preference_pairs("train", 2000), preference_pairs("test", 400)
    for pairs in (train, test):
        assert {p["kind"] for p in pairs} == set(KINDS)
        assert all(judge(p["chosen"]) > judge(p["rejected"]) for p in pairs)
    name = lambda p: " ".join(p["prompt"].split()[:2])  # noqa: E731
    assert not {name(p) for p in train} & {name(p) for p in test}


def test_broken_stories_are_never_stories():
    rng = random.Random(0)
    story = " On Friday, the readers brought flowers to say thank you. Mara felt proud."
    assert all(judge(broken(rng, story)) == -2 for _ in range(200))


def test_annotators_disagree_more_on_close_calls():
    pairs = preference_pairs("train", 2000)
    labelled = annotate(pairs)
    agree = {}
    for p, q in zip(pairs, labelled):
        gap = judge(p["chosen"]) - judge(p["rejected"])
        agree.setdefault(gap <= 1, []).append(q["chosen"] == p["chosen"])
    close, clear = (sum(v) / len(v) for v in (agree[True], agree[False]))
    assert 0.7 < close < 0.9 and clear > 0.9
    assert annotate(pairs) == labelled  # seeded: the same labels every run


def test_page_shows_this_output(run, page_output):
    page_output("step5_preferences", run.stdout, run.figures())
    assert 0.8 < run.metrics("preferences")["agree"] < 0.95
