"""Step 6: model judges measured against the human study: position bias, its mitigations,
verbosity, and a trained judge against a prompted one."""

import pytest

from guide.rule import judge as rule
from guide.world import TOWNS
from step6_evaluation.llm_judge import calibrate, majority, swap_and_average, verbosity_pairs, wins


@pytest.fixture(scope="module")
def run(run_snippet, instruction_model):
    return run_snippet("step6_evaluation/llm_judge.py", "--model", str(instruction_model))


@pytest.fixture(scope="module")
def judges(run):
    return run.metrics("llm_judge")["judges"]


def test_swapping_the_order_exposes_the_prompted_judges_position_bias(judges):
    asked = judges["instruction model, asked A or B"]["as asked"]
    assert abs(asked["first shown wins"] - 0.5) > 0.25  # it answers by position, not by story
    assert asked["same verdict both orders"] < 0.5


def test_swap_and_average_removes_it_and_calibration_centres_it(judges):
    variants = judges["instruction model, asked A or B"]
    asked, fair, calibrated = variants["as asked"], variants["swap and average"], variants["calibrated"]
    assert fair["same verdict both orders"] == 1.0  # by construction: the page says so
    assert fair["accuracy"] > asked["accuracy"] + 0.1
    assert abs(calibrated["first shown wins"] - 0.5) < abs(asked["first shown wins"] - 0.5) - 0.2


def test_the_trained_judge_agrees_with_people_far_more_than_the_prompted_one(judges):
    reward_model = judges["reward model"]["as asked"]
    prompted = judges["instruction model, asked A or B"]["swap and average"]
    assert reward_model["accuracy"] >= 0.7 and reward_model["accuracy"] > prompted["accuracy"] + 0.1
    assert reward_model["kappa"] > prompted["kappa"] + 0.15
    assert reward_model["same verdict both orders"] == 1.0  # it scores one story at a time


def test_the_length_pairs_differ_by_a_true_sentence_the_rule_ignores():
    story = " On Monday, the diners brought flowers to say thank you. Ana felt proud."
    pairs = [(f"Ana Lane is a chef in {town}.", story, " ") for town, *_ in TOWNS]
    made = verbosity_pairs(pairs + [("Ana Lane is a chef in Elmstead.", " On Monday, the the", " ")])
    assert len(made) == len(TOWNS)  # not a story: no pair
    for (prompt, longer, plain), (town, _, market, _) in zip(made, TOWNS):
        assert longer == f" The market in {town} is held every {market}." + plain and prompt.endswith(f"{town}.")
        assert rule(longer) == rule(plain) > -2


def test_the_mitigations_do_what_they_say():
    forward, backward = [2.0, -1.0, 3.0], [1.0, -2.0, 3.0]  # a judge that leans towards "a"
    assert swap_and_average(forward, backward) == [0.5, 0.5, 0.0]
    assert calibrate([1.0, 3.0], reference=[2.0, 2.0]) == [-1.0, 1.0]
    rows = [{"item": 0, "choice": c} for c in "aab"] + [{"item": 1, "choice": c} for c in ("a", "b", "tie")]
    assert majority(rows) == ["a", "tie"]
    assert [wins(m) for m in (2.0, -1.0, 0.0)] == [1.0, 0.0, 0.5]  # an exact tie counts half


def test_the_page_shows_this_output(run, page_output):
    page_output("step6_llm_judge", run.stdout, run.figures())


def test_without_a_model_it_says_how_to_make_one(refuses, tmp_path):
    proc = refuses("step6_evaluation/llm_judge.py", cwd=tmp_path)
    assert proc.returncode == 2
    assert "instructions.py --save DIR" in proc.stderr


def test_what_the_page_says_about_each_judge(run, judges):
    asked = judges["instruction model, asked A or B"]
    assert asked["as asked"]["accuracy"] <= 0.55  # "no better than a coin's"
    assert asked["swap and average"]["accuracy"] < 0.7  # "still near chance"
    assert asked["calibrated"]["same verdict both orders"] < 0.5
    m = run.metrics("llm_judge")
    assert judges["reward model"]["as asked"]["kappa"] < m["annotators mean kappa"]
    assert abs(judges["reward model"]["as asked"]["longer wins"] - 0.5) < 0.2  # "its taste for length is small"
    assert 0.35 < m["longer text rejected in training"] < 0.65  # "length little to learn from"
