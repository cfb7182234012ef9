"""Step 3: the scaling ladder, the fit of Chinchilla's law, and the recorded full run."""

import json

import numpy as np
import pytest

from step3_pretraining.scaling import compute_optimal, fit, law, report
from testing_utils import GENERATED


@pytest.fixture(scope="module")
def short(run_snippet, guide_model):
    return run_snippet("step3_pretraining/scaling.py", "--short")


def _losses(record):
    return {(p["width"], p["steps"]): p["loss"] for p in record["points"]}


def test_a_short_ladder_loses_less_with_size_and_with_data(short):
    record = json.loads((short.out / "scaling.json").read_text())
    loss = _losses(record)
    for steps in record["steps"]:
        row = [loss[w, steps] for w in record["widths"]]
        assert row == sorted(row, reverse=True), f"at {steps} steps the loss does not fall with size: {row}"
    for width in record["widths"]:
        column = [loss[width, s] for s in record["steps"]]
        assert column == sorted(column, reverse=True)


def test_the_fit_recovers_a_known_law():
    true = {"E": 1.0, "A": 50.0, "alpha": 0.4, "B": 500.0, "beta": 0.3}
    points = [
        {"n": n, "d": d, "loss": float(law((n, d), *true.values()))}
        for n in (1e4, 3e4, 1e5, 3e5, 1e6)
        for d in (1e5, 1e6, 1e7)
    ]
    params, r2 = fit(points)
    assert r2 > 0.999
    assert abs(params["alpha"] - 0.4) < 0.02 and abs(params["beta"] - 0.3) < 0.02


def test_the_compute_optimal_point_is_the_lowest_loss_for_its_compute():
    params = {"E": 1.0, "A": 50.0, "alpha": 0.4, "B": 500.0, "beta": 0.3}
    c = 1e12
    n, d = compute_optimal(params, c)
    assert 6 * n * d == pytest.approx(c)
    best = law((n, d), *params.values())
    for factor in (0.5, 0.8, 1.25, 2.0):  # more parameters and fewer tokens, or the reverse
        assert law((n * factor, d / factor), *params.values()) > best


def test_the_page_shows_the_full_ladder_and_its_fit_explains_it():
    record = json.loads((GENERATED / "step3_scaling.json").read_text())
    assert (GENERATED / "step3_scaling.txt").read_text() == report(record), (
        "docs/generated/step3_scaling.txt is not the report of step3_scaling.json: rerun "
        "python snippets/step3_pretraining/scaling.py --page"
    )
    assert len(record["widths"]) >= 5 and len(record["steps"]) >= 3
    assert record["r2"] >= 0.8  # the page says why the additive form explains no more (see its text)
    loss = _losses(record)
    for steps in record["steps"]:
        row = [loss[w, steps] for w in record["widths"]]
        assert all(a > b for a, b in zip(row, row[1:])), f"at {steps} steps: {row}"
    assert np.isfinite(record["tokens_per_parameter"])
