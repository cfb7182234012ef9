"""Step 3: a mixture of experts against a dense model of the same active size, and its load."""

import json

import pytest

from step3_pretraining.moe_training import report
from testing_utils import GENERATED

DENSE, BALANCED, FREE = "dense (SwiGLU 688 wide)", "MoE, balancing loss 0.01", "MoE, no balancing loss"


@pytest.fixture(scope="module")
def short(run_snippet, guide_model):
    return run_snippet("step3_pretraining/moe_training.py", "--steps", "20")


def test_all_three_learn_and_the_mixture_is_sparse(short):
    models = json.loads((short.out / "moe_training.json").read_text())["models"]
    assert all(m["val_loss"] < 6.0 for m in models.values())  # ln(1,020) = 6.9 at the start
    moe = models[BALANCED]
    assert moe["parameters"] > 2.5 * moe["active"]  # 8 experts held, 2 used per token
    assert abs(moe["active"] - models[DENSE]["active"]) < 0.01 * moe["active"]  # equal active size


def test_the_load_is_a_share_of_the_routing_choices(short):
    models = json.loads((short.out / "moe_training.json").read_text())["models"]
    for name in (BALANCED, FREE):
        for layer in models[name]["load"]:
            assert len(layer) == 8 and abs(sum(layer) - 1) < 1e-6


def test_the_page_shows_a_full_run():
    record = json.loads((GENERATED / "step3_moe_training.json").read_text())
    assert (GENERATED / "step3_moe_training.txt").read_text() == report(record), (
        "docs/generated/step3_moe_training.txt is not the report of its .json: rerun "
        "python snippets/step3_pretraining/moe_training.py --page"
    )
    assert record["steps"] == 200 and set(record["models"]) == {DENSE, BALANCED, FREE}


def test_a_bad_budget_is_refused(refuses, tmp_path):
    proc = refuses("step3_pretraining/moe_training.py", "--steps", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "--steps must be between 10 and 2000" in proc.stderr
