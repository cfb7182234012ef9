"""Step 6: the contamination check finds planted test items, and n-grams alone mislead."""

import pytest

from step6_evaluation.contamination import contamination


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/contamination.py")


def test_every_planted_item_is_found(run):
    m = run.metrics("contamination")
    assert m["planted_found"] == m["planted"] == 20
    assert m["flagged_not_planted"] == m["natural"]["verbatim"]  # the only others: items already there


def test_on_a_templated_world_ngram_overlap_flags_clean_items(run):
    natural = run.metrics("contamination")["natural"]
    assert natural["any_ngram_seen"] > 0.5 * natural["items"]  # shared templates, not leaked items
    assert natural["all_ngrams_seen"] >= natural["verbatim"]


def test_the_check_tells_a_copy_from_a_paraphrase():
    corpus = ["On Monday, the diners brought flowers to say thank you. Ana felt proud."]
    copy, other = corpus[0][:60], "On Sunday, a storm flooded the kitchen and the day's work was lost for good."
    found = contamination([copy, other], corpus, n=5)
    assert found[0]["verbatim"] and found[0]["overlap"] == 1.0
    assert not found[1]["verbatim"] and found[1]["overlap"] == 0.0


def test_contamination_lowers_the_perplexity_of_the_planted_items_only(run):
    ppl = run.metrics("contamination")["perplexity"]
    assert ppl["contaminated"]["planted"] < 0.95 * ppl["clean"]["planted"]  # the score it inflates
    assert ppl["contaminated"]["planted"] < 0.95 * ppl["contaminated"]["held out"]  # and nowhere else


def test_page_shows_this_output(run, page_output):
    page_output("step6_contamination", run.stdout, run.figures())
