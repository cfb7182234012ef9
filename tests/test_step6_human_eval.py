"""Step 6: human evaluation: a judgement file, agreement, and a ranking from pairwise wins."""

import json
import random

import pytest

from step6_evaluation.human_eval import agreement, bradley_terry, elo, load_judgements, simulate


@pytest.fixture(scope="module")
def run(run_snippet):
    return run_snippet("step6_evaluation/human_eval.py")


def test_rankings_recover_the_writers_true_order(run):
    metrics = run.metrics("human_eval")
    truth = ["storyteller", "coin-flip days", "careless endings", "half broken"]  # by the rule's mean score
    assert sorted(truth, key=metrics["bradley_terry"].get, reverse=True) == truth
    assert sorted(truth, key=metrics["elo"].get, reverse=True) == truth


def test_kappa_orders_annotators_by_care(run):
    kappa = {pair: a["kappa"] for pair, a in run.metrics("human_eval")["agreement"].items()}
    assert kappa["careful / hurried"] > kappa["careful / careless"] > kappa["careless / hurried"] > 0.2
    assert all(a["raw"] > a["kappa"] for a in run.metrics("human_eval")["agreement"].values())


def test_kappa_is_zero_for_independent_coin_flips():
    rng = random.Random(0)
    rows = [
        {"item": i, "annotator": who, "choice": rng.choice("ab"), "a": {"system": "x"}, "b": {"system": "y"}}
        for i in range(4000)
        for who in ("p", "q")
    ]
    assert abs(agreement(rows)["p / q"]["kappa"]) < 0.05


def test_bradley_terry_and_elo_agree_on_a_clear_winner():
    rows = [
        {"item": i, "annotator": "p", "choice": "a", "a": {"system": "good"}, "b": {"system": "bad"}} for i in range(30)
    ]
    assert bradley_terry(rows)["good"] > bradley_terry(rows)["bad"] and elo(rows)["good"] > elo(rows)["bad"]


def test_the_file_round_trips_and_bad_lines_are_named(tmp_path, refuses):
    path = tmp_path / "judgements.jsonl"
    rows = simulate(n_items=5)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert load_judgements(path) == rows
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps({**rows[0], "choice": "both"}) + "\n")
    proc = refuses("step6_evaluation/human_eval.py", "--judgements", str(path), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"line {len(rows) + 1}: choice must be one of" in proc.stderr


def test_page_shows_this_output(run, page_output):
    page_output("step6_human_eval", run.stdout, run.figures())
