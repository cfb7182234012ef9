"""Step 3: deduplication and filters remove the crawl's noise and keep the stories."""

import pytest

from step3_pretraining.quality import exact_duplicates, minhash_signatures, near_duplicates, quality_problems


@pytest.fixture(scope="module")
def run(run_snippet):
    return run_snippet("step3_pretraining/quality.py")


def test_cleaning_finds_the_noise(run):
    report = run.metrics("quality")
    assert report["recall"] >= 0.9 and report["precision"] >= 0.9
    assert report["rules"]["quality filter"]["removed"] == report["rules"]["quality filter"]["noise"]
    assert report["rules"]["exact duplicate"]["removed"] == report["rules"]["exact duplicate"]["noise"]


def test_page_shows_this_output(run, page_output):
    page_output("step3_quality", run.stdout, run.figures())


def test_exact_dedup_ignores_case_and_punctuation():
    docs = [{"text": "Mara is a baker."}, {"text": "mara IS a baker!"}, {"text": "Mara is a nurse."}]
    assert exact_duplicates(docs) == {1}


def test_minhash_catches_a_repost_but_not_a_different_story():
    base = (
        "Anna Reed is a baker in Ashford. She has a dog called Pip. On Monday the bread came out well. Anna felt proud."
    )
    docs = [
        {"text": base},
        {"text": base + " (reposted)"},
        {"text": "Omar Stone is a pilot in Dunmore. On Friday a storm flooded the airfield. Omar was upset."},
    ]
    assert near_duplicates(minhash_signatures(docs), threshold=0.9) == {1}


@pytest.mark.parametrize(
    "text, reason",
    [
        ("Click here to win a free holiday!!! Offer ends soon for the best of the deals in town.", "spam phrase"),
        ("BUY BUY BUY BUY BUY BUY BUY BUY BUY BUY the and", "mostly capitals"),
        ("too short", "too short"),
        ("Mara Reed is a baker in Ashford and the bread is good.", None),
    ],
)
def test_quality_rules(text, reason):
    assert quality_problems(text) == reason
