"""Active learning: ask for the labels the model is least sure about, not random ones.

Run it: ``python snippets/step6_evaluation/active_learning.py`` (``--model NAME_OR_PATH``;
``--out DIR`` saves active_learning.json and the learning curves as active_learning.png).
A logistic regression on the frozen guide model's features learns a story's sentiment from a
growing set of labels; uncertainty sampling and random sampling race to the same accuracy.
"""

# --8<-- [start:imports]
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

# --8<-- [end:imports]
# isort: split
from pathlib import Path

from matplotlib.figure import Figure
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.data import stories
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model


@torch.no_grad()
def features(model, tokenizer, texts, batch=64):
    """Mean of the last layer's hidden states over each text's tokens: a fixed vector per story."""
    out = []
    for i in range(0, len(texts), batch):
        enc = tokenizer(texts[i : i + batch], return_tensors="pt", padding=True)
        hidden = model(**enc, output_hidden_states=True).hidden_states[-1]
        mask = enc["attention_mask"][..., None]
        out.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    return np.concatenate(out)


# --8<-- [start:loop]
def learning_curve(x, y, x_test, y_test, strategy, start=10, step=10, budget=200, seed=0):
    """Label `start` random stories, then `step` more per round until `budget`, chosen at random
    or by uncertainty (the predicted probability closest to 0.5); refit and test each round."""
    rng = np.random.default_rng(seed)
    labelled = list(rng.choice(len(x), start, replace=False))
    curve = []
    while True:
        clf = LogisticRegression(max_iter=2000).fit(x[labelled], y[labelled])
        curve.append((len(labelled), clf.score(x_test, y_test)))
        if len(labelled) >= budget:
            return curve
        pool = np.setdiff1d(np.arange(len(x)), labelled)
        if strategy == "uncertainty":
            margin = np.abs(clf.predict_proba(x[pool])[:, 1] - 0.5)
            labelled += list(pool[np.argsort(margin)[:step]])
        else:
            labelled += list(rng.choice(pool, step, replace=False))
    # --8<-- [end:loop]


def labels_to_reach(curve, target):
    return next((n for n, acc in curve if acc >= target), None)


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="active_learning.json and active_learning.png")
    parser.add_argument("--target", type=float, default=0.99, help="accuracy to reach (default 0.99)")
    args = parser.parse_args(argv)
    if not 0 < args.target < 1:
        parser.error("--target is an accuracy between 0 and 1, e.g. 0.95")

    logging.set_verbosity_error()
    seed_everything(0)
    tokenizer, model = load_causal_lm(args.model or guide_model())
    pool, test = stories("train", 2000), stories("test", 400)
    x, x_test = (
        features(model, tokenizer, [r["text"] for r in pool]),
        features(model, tokenizer, [r["text"] for r in test]),
    )
    y = np.array([r["sentiment"] == "positive" for r in pool], dtype=int)
    y_test = np.array([r["sentiment"] == "positive" for r in test], dtype=int)
    seeds = range(5)
    curves = {
        s: [learning_curve(x, y, x_test, y_test, s, seed=seed) for seed in seeds] for s in ("random", "uncertainty")
    }
    mean = {
        s: [(c[0][i][0], float(np.mean([run[i][1] for run in c]))) for i in range(len(c[0]))] for s, c in curves.items()
    }
    needed = {s: labels_to_reach(m, args.target) for s, m in mean.items()}
    print(f"pool of {len(pool)} unlabelled stories, {len(test)} held out; mean of {len(seeds)} runs")
    print(f"{'labels':<12}" + "".join(f"{n:>8}" for n, _ in mean["random"][::3]))
    for s, m in mean.items():
        print(f"{s:<12}" + "".join(f"{acc:>8.1%}" for _, acc in m[::3]))
    for s, n in needed.items():
        print(f"{s} sampling reaches {args.target:.0%} with {n if n else 'more than 200'} labels")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        fig = Figure(figsize=(6, 3.6))
        ax = fig.subplots()
        for s, m in mean.items():
            ax.plot(*zip(*[(n, 100 * a) for n, a in m]), marker=".", label=f"{s} sampling")
        ax.axhline(100 * args.target, color="grey", linestyle="--", linewidth=1, label=f"{args.target:.0%}")
        ax.set(xlabel="labelled stories", ylabel="held-out accuracy (%)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(Path(args.out) / "active_learning.png", dpi=120)
    write_metrics(args.out, "active_learning", {"mean": mean, "needed": needed, "target": args.target})


if __name__ == "__main__":
    main()
