"""Step 3: the small world is deterministic and has the properties later steps rely on."""

import json

import pytest

from guide import world


@pytest.fixture(scope="module")
def run(run_snippet):
    return run_snippet("step3_pretraining/world.py", "--out", "regenerated")


def test_the_shipped_corpus_is_what_the_generator_makes(run, tmp_path):
    docs, facts = world.generate()
    world.write(docs, facts, tmp_path)
    assert world.fingerprint(tmp_path) == world.fingerprint(world.DATA), (
        "snippets/data/world/ differs from what world.py generates: run python snippets/step3_pretraining/world.py"
    )
    assert run.stdout.strip().endswith(world.fingerprint(world.DATA))


def test_stories_are_balanced_and_split():
    docs = [json.loads(line) for line in (world.DATA / "documents.jsonl").read_text().splitlines()]
    stories = [d for d in docs if d["kind"] == "story"]
    assert 1.4e6 < sum(len(d["text"]) for d in docs) < 2.0e6  # "about 1.5 MB"
    assert 0.47 < sum(d["sentiment"] == "positive" for d in stories) / len(stories) < 0.53
    splits = {s: sum(d["split"] == s for d in stories) for s in ("train", "validation", "test")}
    assert splits["validation"] > 300 and splits["test"] > 300
    assert all(d["split"] == "train" for d in docs if d["kind"] != "story")  # noise is train-only
    assert len({d["text"] for d in stories}) == len(stories)  # every story is unique


def test_unseen_people_never_appear_in_any_document():
    facts = json.loads((world.DATA / "facts.json").read_text())
    text = (world.DATA / "documents.jsonl").read_text()
    unseen = [p["name"] for p in facts["people"] if not p["seen"]]
    assert len(unseen) == 40
    assert not [name for name in unseen if name in text]


def test_the_documented_job_skew_is_there():
    facts = json.loads((world.DATA / "facts.json").read_text())
    for job, pronoun in world.SKEW.items():
        people = [p for p in facts["people"] if p["job"] == job]
        share = sum(p["pronoun"] == pronoun for p in people) / len(people)
        assert share >= 0.65, f"{job}: {share:.2f} {pronoun}"


def test_page_shows_this_output(run, page_output):
    page_output("step3_world", run.stdout, run.figures())
