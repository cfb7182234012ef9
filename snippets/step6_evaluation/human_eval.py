"""Human evaluation: a judgement file, agreement between annotators, and a ranking of systems.

Run it: ``python snippets/step6_evaluation/human_eval.py`` (``--judgements FILE`` reads your own
file instead of simulating one; ``--out DIR`` saves human_eval.json and the simulated file).
Four story writers are compared pairwise by three annotators who differ in care.
"""

# --8<-- [start:imports]
import itertools
import json
import math
import random

import choix
from sklearn.metrics import cohen_kappa_score

from guide.errors import GuideError  # a problem the reader can fix; main() reports it in one line
from guide.rule import judge
from step5_alignment.preferences import broken, prompts

# --8<-- [end:imports]
# isort: split
from pathlib import Path

from guide import cli, write_metrics  # cli: the command line every example shares

# --8<-- [start:format]
# One judgement per line (JSON Lines): which of two anonymised outputs for the same prompt an
# annotator preferred. Systems are shown in random order (position "a" or "b") so a bias for
# the first answer does not favour one system.
EXAMPLE = {
    "item": 17,
    "prompt": "Ana Lane is a chef in Elmstead.",
    "annotator": "careful",
    "a": {"system": "storyteller", "text": " On Monday, ... Ana was happy."},
    "b": {"system": "half broken", "text": " On Monday, the the ..."},
    "choice": "a",
}
CHOICES = {"a", "b", "tie"}


def load_judgements(path):
    """Read and check a judgement file; a bad line stops with its number and what is wrong."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                missing = {"item", "annotator", "a", "b", "choice"} - set(row)
                if missing:
                    raise ValueError(f"missing {sorted(missing)}")
                if row["choice"] not in CHOICES:
                    raise ValueError(f"choice must be one of {sorted(CHOICES)}, not {row['choice']!r}")
                row["a"]["system"], row["b"]["system"]  # noqa: B018 - both sides must name a system
            except (ValueError, TypeError, KeyError) as err:
                raise GuideError(
                    f"{path}, line {number}: {err}. Each line is one JSON object like {json.dumps(EXAMPLE)[:120]}..."
                ) from None
            rows.append(row)
    return rows
    # --8<-- [end:format]


# --8<-- [start:simulate]
def simulate(n_items=120, seed=0):
    """Judgements as a small study would produce them. The four writers come from Step 5's
    story world; the annotators follow Step 5's rule with more or less care (the Bradley-Terry
    noise of Step 5, and a careless one who clicks at random 40% of the time)."""
    rng = random.Random(seed)
    systems = {
        "storyteller": lambda w: w(True, True),
        "coin-flip days": lambda w: w(rng.random() < 0.5, True),
        "careless endings": lambda w: w(rng.random() < 0.5, rng.random() < 0.5),
        "half broken": lambda w: broken(rng, w(True, True)) if rng.random() < 0.5 else w(rng.random() < 0.5, True),
    }
    annotators = {"careful": (3.0, 0.0), "hurried": (1.0, 0.0), "careless": (1.0, 0.4)}  # agreement, random share
    rows = []
    for item, (prompt, write) in enumerate(prompts("test", n_items, seed=seed + 1)):
        a, b = rng.sample(sorted(systems), 2)
        texts = {"a": systems[a](write), "b": systems[b](write)}
        gap = judge(texts["a"]) - judge(texts["b"])
        for name, (agreement, random_share) in annotators.items():
            if rng.random() < random_share:
                choice = rng.choice(["a", "b"])
            elif gap == 0:
                choice = "tie" if rng.random() < 0.8 else rng.choice(["a", "b"])
            else:
                choice = "a" if rng.random() < 1 / (1 + math.exp(-agreement * gap)) else "b"
            rows.append(
                {
                    "item": item,
                    "prompt": prompt,
                    "annotator": name,
                    "choice": choice,
                    "a": {"system": a, "text": texts["a"]},
                    "b": {"system": b, "text": texts["b"]},
                }
            )
    return rows
    # --8<-- [end:simulate]


# --8<-- [start:agreement]
def agreement(rows):
    """Raw agreement and Cohen's kappa for each pair of annotators, on the items both judged.
    Kappa = (observed - chance) / (1 - chance): 0 is what two coin-flippers reach, 1 is full
    agreement. Raw agreement flatters when one answer is common."""
    by = {}
    for r in rows:
        by.setdefault(r["annotator"], {})[r["item"]] = r["choice"]
    out = {}
    for x, y in itertools.combinations(sorted(by), 2):
        items = sorted(set(by[x]) & set(by[y]))
        cx, cy = [by[x][i] for i in items], [by[y][i] for i in items]
        out[f"{x} / {y}"] = {
            "raw": sum(p == q for p, q in zip(cx, cy)) / len(items),
            "kappa": cohen_kappa_score(cx, cy),
        }
    return out
    # --8<-- [end:agreement]


# --8<-- [start:ranking]
def bradley_terry(rows):
    """Strengths from pairwise wins (ties left out), fitted by choix; P(i beats j) =
    sigmoid(s_i - s_j), the model behind Step 5's reward model, now over systems."""
    systems = sorted({r[side]["system"] for r in rows for side in "ab"})
    index = {s: i for i, s in enumerate(systems)}
    wins = [
        (index[r[r["choice"]]["system"]], index[r["b" if r["choice"] == "a" else "a"]["system"]])
        for r in rows
        if r["choice"] != "tie"
    ]
    strength = choix.ilsr_pairwise(len(systems), wins, alpha=0.01)
    return dict(zip(systems, (strength - strength.mean()).tolist()))


def elo(rows, k=16, rounds=20, seed=0):
    """Elo ratings, as chess and chatbot arenas keep them: after each game the winner takes
    k x (1 - expected score) points from the loser. The order of games matters, so we average
    over shuffled orders."""
    systems = sorted({r[side]["system"] for r in rows for side in "ab"})
    total = dict.fromkeys(systems, 0.0)
    rng = random.Random(seed)
    for _ in range(rounds):
        rating = dict.fromkeys(systems, 1000.0)
        for r in rng.sample(rows, len(rows)):
            a, b = r["a"]["system"], r["b"]["system"]
            expected_a = 1 / (1 + 10 ** ((rating[b] - rating[a]) / 400))
            score_a = {"a": 1.0, "b": 0.0, "tie": 0.5}[r["choice"]]
            rating[a] += k * (score_a - expected_a)
            rating[b] -= k * (score_a - expected_a)
        for s in systems:
            total[s] += rating[s] / rounds
    return total
    # --8<-- [end:ranking]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="human_eval.json and judgements.jsonl")
    parser.add_argument("--judgements", help="a JSON Lines file of judgements (default: simulate a study)")
    args = parser.parse_args(argv)

    if args.judgements:
        if not Path(args.judgements).is_file():
            parser.error(f"--judgements {args.judgements!r}: no such file")
        rows = load_judgements(args.judgements)
    else:
        rows = simulate()
        if args.out:  # the file a study would hand over, read back through the checker
            Path(args.out).mkdir(parents=True, exist_ok=True)
            path = Path(args.out) / "judgements.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            rows = load_judgements(path)
    items = len({r["item"] for r in rows})
    print(f"{len(rows)} judgements of {items} pairs by {len({r['annotator'] for r in rows})} annotators")
    print("| annotators | raw agreement | Cohen's kappa |\n|---|---:|---:|")
    agree = agreement(rows)
    for pair, a in agree.items():
        print(f"| {pair} | {a['raw']:.1%} | {a['kappa']:.2f} |")
    strength, ratings = bradley_terry(rows), elo(rows)
    played = {s: [r for r in rows if s in (r["a"]["system"], r["b"]["system"])] for s in strength}
    win = {
        s: sum((r["a"]["system"] == s) == (r["choice"] == "a") for r in g if r["choice"] != "tie")
        / max(1, sum(r["choice"] != "tie" for r in g))
        for s, g in played.items()
    }
    print("| system | win rate | Bradley-Terry strength | Elo |\n|---|---:|---:|---:|")
    for s in sorted(strength, key=strength.get, reverse=True):
        print(f"| {s} | {win[s]:.1%} | {strength[s]:+.2f} | {ratings[s]:.0f} |")
    write_metrics(
        args.out,
        "human_eval",
        {"agreement": agree, "bradley_terry": strength, "elo": ratings, "win_rate": win, "judgements": len(rows)},
    )


if __name__ == "__main__":
    main()
