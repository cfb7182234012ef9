"""Step 4: LoRA matches full fine-tuning on the guide's sentiment task with a sliver of the
parameters and a sliver of the disk."""

import pytest


@pytest.fixture(scope="module")
def table(run_snippet, guide_model):
    return run_snippet("step4_finetuning/classify.py", timeout=240)


def test_full_fine_tuning_learns_the_task(table):
    m = table.metrics("classify")
    assert m["rows"]["full fine-tuning"]["accuracy"] >= 0.9 > m["majority"]


def test_lora_reaches_95_percent_of_full_fine_tuning_with_at_most_5_percent_of_parameters(table):
    rows = table.metrics("classify")["rows"]
    full, lora = rows["full fine-tuning"], rows["LoRA r=8"]
    assert lora["accuracy"] >= 0.95 * full["accuracy"]
    assert lora["trainable"] <= 0.05 * lora["total"]
    assert lora["checkpoint_bytes"] < 0.1 * full["checkpoint_bytes"]  # adapter + head only


def test_page_shows_this_output(table, page_output):
    page_output("step4_classify", table.stdout)


def test_page_prose_matches_the_run(table):
    from conftest import REPO

    page = " ".join((REPO / "docs" / "step-4-finetuning.md").read_text(encoding="utf-8").split())
    rows = table.metrics("classify")["rows"]
    lora = rows["LoRA r=8"]
    assert "training under 2% of the parameters" in page and lora["trainable"] / lora["total"] < 0.02
    assert "same 1,000 stories for two epochs and tests on 400 held-out ones" in page
    assert "both reach the top of the scale" in page and min(r["accuracy"] for r in rows.values()) >= 0.97
