"""Step 3: the Llama-style model against the guide's GPT-2, on the same data and budget."""

import json

import pytest

from step3_pretraining.llama_style import report
from testing_utils import GENERATED

GPT2, LLAMA = "GPT-2 (the guide's)", "Llama-style, 2 KV heads"


@pytest.fixture(scope="module")
def short(run_snippet, guide_model):
    return run_snippet("step3_pretraining/llama_style.py", "--steps", "20")


def test_both_models_learn_in_a_short_run(short):
    models = json.loads((short.out / "llama_style.json").read_text())["models"]
    assert all(m["val_loss"] < 6.0 for m in models.values())  # ln(1,020) = 6.9 at the start


def test_two_kv_heads_halve_the_cache(short):
    models = json.loads((short.out / "llama_style.json").read_text())["models"]
    assert models[GPT2]["kv_bytes_per_token"] == 2 * models[LLAMA]["kv_bytes_per_token"]


def test_the_page_shows_a_full_run():
    record = json.loads((GENERATED / "step3_llama_style.json").read_text())
    assert (GENERATED / "step3_llama_style.txt").read_text() == report(record), (
        "docs/generated/step3_llama_style.txt is not the report of its .json: rerun "
        "python snippets/step3_pretraining/llama_style.py --page"
    )
    assert record["steps"] == 200 and set(record["models"]) == {GPT2, LLAMA}


def test_a_bad_budget_is_refused(refuses, tmp_path):
    proc = refuses("step3_pretraining/llama_style.py", "--steps", "1", cwd=tmp_path)
    assert proc.returncode == 2 and "--steps must be between 10 and 2000" in proc.stderr
