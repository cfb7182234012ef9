"""Scaling laws on the guide's corpus: a ladder of model sizes and token budgets, and a fit of
L(N, D) = E + A / N^alpha + B / D^beta to the losses.

Run it: ``python snippets/step3_pretraining/scaling.py`` (the full ladder, 5 sizes x 3 budgets,
a few minutes; ``--short`` runs 3 sizes x 2 short budgets, as the tests do; ``--out DIR`` saves
scaling.json and scaling.txt, ``--page`` writes them to docs/generated/ for the Step 3 page). Each point is a fresh model trained with Step 3's loop for its own budget
(the learning-rate schedule ends at the budget, as Chinchilla's runs do).
"""

# --8<-- [start:imports]
import numpy as np
from scipy.optimize import curve_fit

# --8<-- [end:imports]
# isort: split
import sys
import time

from guide import cli, pick_device  # cli: the command line every example shares
from guide.runtime import write_report
from step3_pretraining.pretrain import evaluate, guide_tokens, make_model, trained_alike

WIDTHS = (16, 32, 48, 64, 96)  # 2 layers each; heads of 16 dimensions
STEPS = (100, 200, 400)  # batches of 16 blocks of 128 tokens
SHORT = {"widths": (16, 32, 64), "steps": (30, 60)}


# --8<-- [start:fit]
def law(nd, e, a, alpha, b, beta):
    """Chinchilla's form (Hoffmann et al., 2022): an irreducible loss E, plus what a finite
    model (N parameters) and a finite amount of data (D tokens) each add."""
    n, d = nd
    return e + a / n**alpha + b / d**beta


def fit(points):
    """Least squares on the log of the loss (each point counts by its relative error, as in
    Chinchilla's fit); the fitted parameters and R^2 of the loss itself."""
    n, d, loss = (np.array([p[k] for p in points], dtype=float) for k in ("n", "d", "loss"))
    guess, bounds = (0.5, 30.0, 0.3, 300.0, 0.4), ([0, 0, 0.01, 0, 0.01], [5, 1e9, 3, 1e12, 3])
    params, _ = curve_fit(
        lambda nd, *p: np.log(law(nd, *p)), (n, d), np.log(loss), p0=guess, bounds=bounds, maxfev=50000
    )
    residual = loss - law((n, d), *params)
    r2 = 1 - (residual**2).sum() / ((loss - loss.mean()) ** 2).sum()
    return dict(zip(("E", "A", "alpha", "B", "beta"), map(float, params))), float(r2)


def compute_optimal(params, compute):
    """With compute C = 6 N D (a forward and backward pass cost about 6 operations per
    parameter and token), the N and D that minimise the fitted loss for this C."""
    a, alpha, b, beta = params["A"], params["alpha"], params["B"], params["beta"]
    g = (alpha * a / (beta * b)) ** (1 / (alpha + beta))
    n = g * (compute / 6) ** (beta / (alpha + beta))
    return n, compute / (6 * n)
    # --8<-- [end:fit]


def non_embedding(model):
    """Parameters outside the token and position tables (Kaplan et al. count these)."""
    t = model.transformer
    return sum(p.numel() for p in model.parameters()) - t.wte.weight.numel() - t.wpe.weight.numel()


def ladder(widths, steps, device):
    """Every width trained for every budget, from scratch, as Step 3's comparisons train."""
    tokenizer, train_blocks, val_blocks = guide_tokens()  # every size reads the same tokens
    points = []
    for width in widths:
        for budget in steps:

            def build(tokenizer, width=width):
                return make_model(tokenizer, width=width, heads=max(1, width // 16))

            model, seconds = trained_alike(build, tokenizer, train_blocks, val_blocks, device, budget)
            loss = evaluate(model, val_blocks, device)
            d = budget * 16 * train_blocks.shape[1]  # the loop's batches: 16 blocks
            points.append(
                {"width": width, "steps": budget, "n": non_embedding(model), "d": d, "loss": loss, "seconds": seconds}
            )
            print(f"width {width}, {budget} steps: loss {loss:.3f}", file=sys.stderr, flush=True)
    return points, train_blocks.numel()


def report(record):
    """The run's table and fit, as the page shows them (a function of the record alone)."""
    lines = [f"{len(record['widths'])} sizes x {len(record['steps'])} budgets on the guide's corpus (validation loss):"]
    lines.append("| width | N (non-embedding) | " + " | ".join(f"{s} steps" for s in record["steps"]) + " |")
    lines.append("|---:|---:|" + "---:|" * len(record["steps"]))
    for width in record["widths"]:
        row = [p for p in record["points"] if p["width"] == width]
        lines.append(f"| {width} | {row[0]['n']:,} | " + " | ".join(f"{p['loss']:.3f}" for p in row) + " |")
    d = {p["steps"]: p["d"] for p in record["points"]}
    tokens = ", ".join(f"{s} steps = {d[s]:,}" for s in record["steps"])
    lines.append(f"tokens D: {tokens}")
    f = record["fit"]
    lines.append(
        f"fit: L = {f['E']:.2f} + {f['A']:.3g} / N^{f['alpha']:.2f} + {f['B']:.3g} / D^{f['beta']:.2f}"
        f"  (R^2 = {record['r2']:.3f} over {len(record['points'])} points)"
    )
    lines.append(
        f"compute-optimal at the ladder's largest compute (C = 6ND = {record['compute']:.2e}): "
        f"N = {record['optimal_n']:,.0f}, D = {record['optimal_d']:,.0f}, "
        f"{record['tokens_per_parameter']:,.1f} tokens per parameter (the corpus has {record['corpus_tokens']:,} tokens)"
    )
    return "\n".join(lines) + "\n"


@cli.command(cache=False)  # --page writes to docs/generated/, outside --out
def main(argv=None):
    parser = cli.parser(__doc__, out="scaling.json and scaling.txt")
    parser.add_argument("--short", action="store_true", help="3 sizes x 2 budgets (the tests' version)")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--page", action="store_true", help="write them to docs/generated/ for the Step 3 page")
    args = parser.parse_args(argv)

    widths, steps = (SHORT["widths"], SHORT["steps"]) if args.short else (WIDTHS, STEPS)
    points, corpus_tokens = ladder(widths, steps, pick_device(args.device))
    params, r2 = fit(points)
    largest = max(6 * p["n"] * p["d"] for p in points)
    n_opt, d_opt = compute_optimal(params, largest)
    record = {
        "widths": list(widths),
        "steps": list(steps),
        "points": points,
        "fit": params,
        "r2": r2,
        "compute": largest,
        "optimal_n": n_opt,
        "optimal_d": d_opt,
        "tokens_per_parameter": d_opt / n_opt,
        "corpus_tokens": corpus_tokens,
        "run": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    print(report(record), end="")
    write_report(record, report(record), args.out, "scaling", args.page and "step3_scaling")


if __name__ == "__main__":
    main()
