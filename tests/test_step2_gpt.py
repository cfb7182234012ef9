"""Step 2: the GPT assembled from the step's own blocks equals transformers' GPT2LMHeadModel."""

import json

import pytest
import torch

from step2_architecture.gpt import from_gpt2, gaps, guide_shaped_gpt2, next_token_loss

TOL = 1e-5


@pytest.fixture(scope="module")
def run(run_snippet):
    return run_snippet("step2_architecture/gpt.py")


def test_logits_loss_and_gradients_equal_gpt2(run):
    measured = run.metrics("gpt")
    assert all(gap < TOL for gap in measured["gaps"].values()), measured["gaps"]
    assert measured["parameters"] == measured["parameters_transformers"]  # tied: the head adds none


def test_the_guides_trained_model_copies_exactly_from_its_folder(example, guide_model, tmp_path):
    """The from_pretrained path, on the local folder Step 3 saved."""
    example(
        "step2_architecture/gpt.py",
        "--model",
        str(guide_model.out / "guide-model"),
        "--out",
        str(tmp_path),
        cwd=tmp_path,
    )
    measured = json.loads((tmp_path / "gpt.json").read_text())
    assert all(gap < TOL for gap in measured["gaps"].values()), measured["gaps"]


def test_a_broken_copy_is_caught():
    """The check can fail: untie the head, or skip the final LayerNorm, and the gap is large."""
    hf = guide_shaped_gpt2().eval()
    ids = torch.randint(0, 2048, (2, 16), generator=torch.Generator().manual_seed(1))
    ours = from_gpt2(hf)
    with torch.no_grad():
        ours.ln_f.weight.mul_(2)
    assert gaps(ours, hf, ids)["logits"] > 1e-2


def test_the_loss_is_the_shifted_cross_entropy():
    logits = torch.zeros(1, 3, 5)
    logits[0, 0, 2] = logits[0, 1, 4] = 20.0  # position 0 predicts token 2, position 1 token 4
    assert next_token_loss(logits, torch.tensor([[1, 2, 4]])) < 1e-6
    assert next_token_loss(logits, torch.tensor([[2, 4, 1]])) > 10


def test_page_shows_this_output(run, page_output):
    page_output("step2_gpt", run.stdout, run.figures())


def test_a_missing_model_folder_is_refused_with_what_to_pass(refuses, tmp_path):
    proc = refuses("step2_architecture/gpt.py", "--model", str(tmp_path / "missing"), cwd=tmp_path)
    assert proc.returncode == 1 and "no folder there" in proc.stderr
