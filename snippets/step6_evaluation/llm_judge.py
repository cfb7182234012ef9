"""LLM-as-judge: models that grade story continuations, their biases, and two mitigations.

Run it: ``python snippets/step6_evaluation/llm_judge.py --model DIR``, where DIR holds an
instruction-tuned model (``python snippets/step4_finetuning/instructions.py --save DIR`` makes
the guide's); ``--reward-model DIR`` picks the second judge (default: Step 5's reward model);
``--out DIR`` saves llm_judge.json. The judges grade the pairs of the human study above, and
are measured against its three annotators: agreement, position bias and verbosity bias.
"""

# --8<-- [start:imports]
import statistics

import torch

from guide.rule import judge as rule  # what the simulated annotators follow, more or less carefully
from guide.scoring import log_prob
from guide.world import NAMES, TOWNS
from step4_finetuning.instructions import chat_prompt
from step5_alignment.reward_model import score
from step6_evaluation.human_eval import agreement, simulate

# --8<-- [end:imports]
# isort: split
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.model import INSTRUCTION_MODEL_HELP, load_instruction_model
from step5_alignment.reward_model import pairs as preference_data
from step5_alignment.reward_model import trained_reward_model

# --8<-- [start:judges]
# Each judge returns a margin per pair: above 0 means it prefers the first text, "a".
ASK_PAIR = "Story A: {a}\nStory B: {b}\nWhich story is better, A or B?"
ASK_ONE = "{story}\nWas it a good day for {first}?"  # a question Step 4 tuned the model on


def answer_margin(model, tokenizer, questions, yes, no):
    """log P(yes) - log P(no) for the model's answer to each question, each answer's tokens
    scored in full: a judge's verdict read from its probabilities, not from sampled text."""
    prompts = [chat_prompt(tokenizer, q) for q in questions]
    return [log_prob(model, tokenizer, p, yes) - log_prob(model, tokenizer, p, no) for p in prompts]


def asked_which(model, tokenizer, pairs):
    """The pairwise judge: both continuations in one prompt, "A or B?". It is not shown the
    story's opening, which the two share (and which would not fit the context window twice)."""
    return answer_margin(model, tokenizer, [ASK_PAIR.format(a=a, b=b) for _, a, b in pairs], " A", " B")


def first_name(prompt):
    return next(w for w in prompt.replace(",", " ").split() if any(w in names for names in NAMES.values()))


def asked_one_at_a_time(model, tokenizer, pairs):
    """The pointwise judge: each story graded alone, by the question the model was tuned on;
    the margin is the difference of the two grades."""

    def grades(side):
        questions = [ASK_ONE.format(story=p + texts[side], first=first_name(p)) for p, *texts in pairs]
        return answer_margin(model, tokenizer, questions, " yes", " no")

    return [x - y for x, y in zip(grades(0), grades(1))]


@torch.no_grad()
def reward_model_judge(model, tokenizer, pairs):
    """Step 5's reward model: a judge trained on people's preferences, one story at a time."""
    prompts = [p for p, _, _ in pairs]
    a = score(model, tokenizer, prompts, [a for _, a, _ in pairs])
    b = score(model, tokenizer, prompts, [b for _, _, b in pairs])
    return (a - b).tolist()
    # --8<-- [end:judges]


# --8<-- [start:mitigations]
def swapped(pairs):
    return [(p, b, a) for p, a, b in pairs]


def swap_and_average(forward, backward):
    """Each pair judged in both orders, the margins averaged: (m(a, b) - m(b, a)) / 2. A
    constant lean towards one position cancels, and the verdict no longer depends on the order."""
    return [(f - b) / 2 for f, b in zip(forward, backward)]


def calibrate(margins, reference):
    """Subtract the judge's mean margin on other pairs, where "a" and "b" deserve to win equally
    often (batch calibration, Zhou et al., 2024): the lean is measured, then taken away."""
    lean = statistics.mean(reference)
    return [m - lean for m in margins]
    # --8<-- [end:mitigations]


# --8<-- [start:measures]
def study(seed=0):
    """The pairs of the human study (human_eval.simulate) and its rows of judgements."""
    rows = simulate(seed=seed)
    pairs, seen = [], set()
    for r in rows:
        if r["item"] not in seen:
            seen.add(r["item"])
            pairs.append((r["prompt"], r["a"]["text"], r["b"]["text"]))
    return pairs, rows


def wins(margin):
    """How much a margin counts as a win for the text shown first: 1, 0, or 0.5 for a tie."""
    return 1.0 if margin > 0 else 0.0 if margin < 0 else 0.5


def as_rows(margins, pairs, rows, name):
    """A judge's margins written as one more annotator's judgements (a tie only when exactly
    0). Margins come in the order of the items' numbers, as study() returns the pairs."""
    row_of = {r["item"]: r for r in rows}  # any row of an item: its prompt and its two texts
    return [
        {**row_of[item], "annotator": name, "choice": "a" if m > 0 else "b" if m < 0 else "tie"}
        for item, m in zip(sorted(row_of), margins)
    ]


def majority(rows):
    """The annotators' verdict on each pair, in the order of the items' numbers: the choice at
    least two of the three made ("tie" if two said so, or if all three differ)."""
    votes = {}
    for r in rows:
        votes.setdefault(r["item"], []).append(r["choice"])
    return [max(set(v), key=v.count) if max(map(v.count, v)) >= 2 else "tie" for _, v in sorted(votes.items())]


def versus_people(margins, pairs, rows):
    """Agreement with the annotators: the share of pairs where the judge picks what most of
    them picked (pairs they call a tie left out), and Cohen's kappa with each one, as between
    the annotators themselves (a judge that never says "tie" loses some kappa for that)."""
    picks = [wins(m if v == "a" else -m) for m, v in zip(margins, majority(rows)) if v != "tie"]
    people = sorted({r["annotator"] for r in rows})
    kappas = agreement(rows + as_rows(margins, pairs, rows, "~judge"))
    return statistics.mean(picks), statistics.mean(kappas[f"{who} / ~judge"]["kappa"] for who in people)


def verbosity_pairs(pairs):
    """(prompt, longer, plain): a story against the same story with a true detail about the
    person's town in front (one no prompt states). The rule scores them alike, so a judge with
    no taste for length splits its verdicts."""
    out = []
    for prompt, a, _ in pairs:
        town, _, market, _ = next(t for t in TOWNS if t[0] in prompt)
        if rule(a) > -2:
            out.append((prompt, f" The market in {town} is held every {market}." + a, a))
    return out


def in_both_orders(judge, pairs, lean=None, pairwise=True):
    """{variant: (margins with the pairs as given, margins with them swapped)}."""
    ab, ba = judge(pairs), judge(swapped(pairs))
    out = {"as asked": (ab, ba)}
    if pairwise:
        fair = swap_and_average(ab, ba)
        out["swap and average"] = (fair, [-m for m in fair])
        out["calibrated"] = (calibrate(ab, lean), calibrate(ba, lean))
    return out


def measure(judge, pairs, rows, reference, pairwise):
    """For each variant: agreement with people; how often the text shown first wins; how often
    the verdict survives swapping the order; how often the longer of two equal stories wins."""
    lean = judge(reference) if pairwise else None
    longer = in_both_orders(judge, verbosity_pairs(pairs), lean, pairwise)
    out = {}
    for name, (ab, ba) in in_both_orders(judge, pairs, lean, pairwise).items():
        accuracy, kappa = versus_people(ab, pairs, rows)
        long_ab, long_ba = longer[name]
        out[name] = {
            "accuracy": accuracy,
            "kappa": kappa,
            "first shown wins": statistics.mean(map(wins, ab + ba)),
            "same verdict both orders": statistics.mean([(x > 0) == (y < 0) for x, y in zip(ab, ba)]),
            "longer wins": statistics.mean([wins(m) for m in long_ab] + [wins(-m) for m in long_ba]),
        }
    return out
    # --8<-- [end:measures]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="llm_judge.json")
    parser.add_argument("--model", help=INSTRUCTION_MODEL_HELP)
    parser.add_argument("--reward-model", help="a saved reward model (default: Step 5's, built when missing)")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    seed_everything(0)
    tokenizer, model = load_instruction_model(parser, args.model, "the judge must follow instructions")
    rm_tokenizer, reward_model = trained_reward_model(args.reward_model)
    pairs, rows = study()
    reference, _ = study(seed=1)  # other pairs, to measure a judge's lean on
    judges = {
        "instruction model, asked A or B": (lambda p: asked_which(model, tokenizer, p), True),
        "instruction model, one story at a time": (lambda p: asked_one_at_a_time(model, tokenizer, p), False),
        "reward model": (lambda p: reward_model_judge(reward_model, rm_tokenizer, p), False),
    }
    table = {name: measure(j, pairs, rows, reference, pw) for name, (j, pw) in judges.items()}
    humans = {pair: a["kappa"] for pair, a in agreement(rows).items()}
    train, _ = preference_data()  # what the reward model learned from: did the longer text win?
    longer_lost = statistics.mean(
        [len(p["rejected"]) > len(p["chosen"]) for p in train if len(p["rejected"]) != len(p["chosen"])]
    )

    print(f"{len(pairs)} pairs from the human study, each judged in both orders, and {len(verbosity_pairs(pairs))}")
    print("pairs of a story against itself with one more true sentence (the rule scores them alike)")
    print(
        "| judge | agrees with most annotators | kappa with them | first shown wins | same verdict both orders | longer wins |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, variants in table.items():
        for variant, r in variants.items():
            label = name if variant == "as asked" else f"{name}, {variant}"
            cells = [r[k] for k in ("accuracy", "first shown wins", "same verdict both orders", "longer wins")]
            print(
                f"| {label} | {cells[0]:.0%} | {r['kappa']:.2f} | " + " | ".join(f"{c:.0%}" for c in cells[1:]) + " |"
            )
    print(f"| the annotators with each other | | {statistics.mean(humans.values()):.2f} | | | |")
    print(f"in the reward model's training pairs, the longer text is the rejected one in {longer_lost:.0%}")
    write_metrics(
        args.out,
        "llm_judge",
        {
            "judges": table,
            "annotators": humans,
            "annotators mean kappa": statistics.mean(humans.values()),
            "longer text rejected in training": longer_lost,
            "pairs": len(pairs),
        },
    )


if __name__ == "__main__":
    main()
