"""Step 6: lm-evaluation-harness on the repository's own task agrees with the guide's code."""

import json
import os
import subprocess
import sys

import pytest

from guide.model import load_causal_lm
from step6_evaluation.harness import TASK, items, run_harness
from testing_utils import REPO


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step6_evaluation/harness.py")


def test_the_harness_and_the_guide_agree_on_every_item(run):
    m = run.metrics("harness")
    assert abs(m["harness_acc"] - m["guide_acc"]) < 1e-9
    assert m["agree"] == m["items"] == 200
    assert m["harness_acc"] > 0.9


def test_the_tasks_items_are_the_guides_held_out_stories():
    data = REPO / "snippets" / "data" / "eval" / "guide_sentiment.jsonl"
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    assert rows == items(), (
        "the task's data drifted from the world: python snippets/step6_evaluation/harness.py --write-data"
    )


def test_it_runs_in_this_process_with_the_network_blocked(guide_model):
    """pytest-socket refuses every connection but loopback here, and HF_HUB_OFFLINE=1 is set:
    lm_eval needs neither the Hub nor the network for a local task and a local model."""
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    tokenizer, model = load_causal_lm()
    out = run_harness(model, tokenizer, limit=20)
    assert len(out["samples"]["guide_sentiment"]) == 20


def test_the_pages_command_line_runs_from_the_repository(guide_model, tmp_path):
    """The lm_eval command the page and the YAML show, run as a reader runs it."""
    lm_eval = os.path.join(os.path.dirname(sys.executable), "lm_eval")
    model = guide_model.out / "guide-model"
    proc = subprocess.run(
        [lm_eval, "--model", "hf", "--model_args", f"pretrained={model}", "--tasks", "guide_sentiment"]
        + ["--include_path", str(TASK.parent.relative_to(REPO)), "--device", "cpu", "--limit", "40"],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "guide_sentiment" in proc.stdout and "acc" in proc.stdout


def test_page_shows_this_output(run, page_output):
    page_output("step6_harness", run.stdout, run.figures())
