"""Step 2: naive attention's memory grows with n squared; the fused kernel's does not."""

import json

import pytest


@pytest.fixture(scope="module")
def cost(run_snippet):
    return run_snippet("step2_architecture/attention_cost.py")


def _peak(rows, impl, n):
    return next(r["peak_bytes"] for r in rows if r["impl"] == impl and r["n"] == n)


def test_naive_memory_is_quadratic(cost):
    rows = cost.metrics("attention_cost")["rows"]
    ratio = _peak(rows, "naive", 2048) / _peak(rows, "naive", 1024)
    assert 3.5 < ratio < 4.5, f"doubling n should quadruple naive memory, got x{ratio:.2f}"


def test_sdpa_memory_stays_small(cost):
    rows = cost.metrics("attention_cost")["rows"]
    assert _peak(rows, "sdpa", 2048) < _peak(rows, "naive", 2048) / 10
    assert _peak(rows, "sdpa", 2048) / _peak(rows, "sdpa", 1024) < 2.5  # about linear


def test_plot_is_written(cost):
    png = cost.out / "attention_cost.png"
    assert png.exists() and png.read_bytes()[:4] == b"\x89PNG"


def test_page_shows_this_output(cost, page_output):
    page_output("step2_attention_cost", cost.stdout, cost.figures())


@pytest.mark.gpu
def test_on_the_gpu_the_fused_kernel_saves_memory_too(example, tmp_path, page_output):
    proc = example(
        "step2_architecture/attention_cost.py", "--device", "cuda", "--out", str(tmp_path), cwd=tmp_path, timeout=300
    )
    rows = json.loads((tmp_path / "attention_cost.json").read_text())["rows"]
    ratio = _peak(rows, "naive", 16384) / _peak(rows, "naive", 8192)
    assert 3.5 < ratio < 4.5, f"doubling n should quadruple naive memory, got x{ratio:.2f}"
    assert _peak(rows, "sdpa", 16384) < _peak(rows, "naive", 16384) / 10
    # the first line names the GPU model, which differs between runners
    page_output("step2_attention_cost_cuda", proc.stdout.split("\n", 1)[1])
