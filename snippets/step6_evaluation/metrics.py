"""Task metrics, and how each can mislead: classification, perplexity, BLEU and chrF.

Run it: ``python snippets/step6_evaluation/metrics.py`` (``--model NAME_OR_PATH``; ``--out DIR``
saves metrics.json and the confusion matrices as metrics.png). The classifier is the guide's
model asked in its own words (Step 4's zero-shot hard prompt), so nothing is trained here.
"""

# --8<-- [start:imports]
import sacrebleu
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from guide.data import stories
from guide.scoring import p_positive, perplexity

# --8<-- [end:imports]
# isort: split
from pathlib import Path

from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.data import load_documents
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model


# --8<-- [start:report]
def report(labels, predictions):
    """The standard numbers, from scikit-learn (1 = good day, the "positive" class)."""
    return {
        "accuracy": accuracy_score(labels, predictions),
        "precision": precision_score(labels, predictions, zero_division=0),  # of the days called good, how many were
        "recall": recall_score(labels, predictions, zero_division=0),  # of the good days, how many were found
        "f1": f1_score(labels, predictions, zero_division=0),
        "recall_bad_days": recall_score(labels, predictions, pos_label=0, zero_division=0),
        "macro_f1": f1_score(labels, predictions, average="macro", zero_division=0),  # both classes count equally
        "confusion": confusion_matrix(labels, predictions, labels=[0, 1]).tolist(),  # rows: truth, cols: guess
    }
    # --8<-- [end:report]


# --8<-- [start:bleu]
def overlap_scores(hypotheses, references):
    """Corpus BLEU and chrF from sacrebleu: n-gram overlap with the reference, in words and in
    characters. They reward shared surface form, not shared meaning."""
    return {
        "BLEU": sacrebleu.corpus_bleu(hypotheses, [references]).score,
        "chrF": sacrebleu.corpus_chrf(hypotheses, [references]).score,
    }


ENDINGS = [  # reference, a paraphrase with the same meaning, the reference with its meaning flipped
    (
        "The diners brought flowers to say thank you. Ana was happy.",
        "Ana was delighted: her diners thanked her with flowers.",
        "The diners brought flowers to say thank you. Ana was upset.",
    ),
    (
        "A storm flooded the farm, and the day's work was lost. Omar felt miserable.",
        "Omar was heartbroken after the flood ruined a whole day of work on the farm.",
        "A storm flooded the farm, and the day's work was lost. Omar felt lucky.",
    ),
    (
        "The customers left without paying. Lucia was furious.",
        "Lucia was angry because nobody paid for the food.",
        "The customers left without paying. Lucia was delighted.",
    ),
    (
        "An old friend visited the library with good news. Ravi felt proud.",
        "Ravi's old friend came by the library to share good news, which made him proud.",
        "An old friend visited the library with bad news. Ravi felt proud.",
    ),
]
# --8<-- [end:bleu]


def plot_confusions(reports, path):
    fig = Figure(figsize=(4 * len(reports), 3.6))
    for ax, (title, r) in zip(fig.subplots(1, len(reports)), reports.items()):
        ConfusionMatrixDisplay(torch.tensor(r["confusion"]).numpy(), display_labels=["bad day", "good day"]).plot(
            ax=ax, colorbar=False, values_format="d"
        )
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="metrics.json and metrics.png")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    seed_everything(0)
    tokenizer, model = load_causal_lm(args.model or guide_model())

    rows = stories("test", 400)
    probs = [p_positive(model, tokenizer, r["text"], r["person"].split()[0]) for r in rows]
    labels = [int(r["sentiment"] == "positive") for r in rows]
    guesses = [int(p > 0.5) for p in probs]
    # The same model on a skewed test set: every good day, and one bad day in ten
    bad = [i for i, y in enumerate(labels) if y == 0]
    skew = [i for i, y in enumerate(labels) if y == 1] + bad[: len(labels) // 20]
    reports = {
        "balanced test set, the model": report(labels, guesses),
        "skewed test set, the model": report([labels[i] for i in skew], [guesses[i] for i in skew]),
        "skewed test set, always 'good day'": report([labels[i] for i in skew], [1] * len(skew)),
    }
    print(
        f"sentiment of held-out stories, zero-shot: {len(rows)} balanced, {len(skew)} skewed "
        f"({sum(labels[i] for i in skew) / len(skew):.0%} good days)"
    )
    print(f"| {'':<36} | accuracy | precision | recall | F1 | recall (bad days) | macro F1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in reports.items():
        print(
            f"| {name:<36} | {r['accuracy']:.1%} | {r['precision']:.1%} | {r['recall']:.1%} | {r['f1']:.1%} "
            f"| {r['recall_bad_days']:.1%} | {r['macro_f1']:.1%} |"
        )

    docs = load_documents()
    texts = {
        "held-out stories": [d["text"] for d in docs if d["kind"] == "story" and d["split"] == "test"][:200],
        "spam and garbled noise": [d["text"] for d in docs if d["kind"] in ("spam", "garbled")][:200],
        "stories, words shuffled": [],
    }
    rng = __import__("random").Random(0)
    for text in texts["held-out stories"]:
        words = text.split()
        rng.shuffle(words)
        texts["stories, words shuffled"].append(" ".join(words))
    ppl = {name: perplexity(model, tokenizer, t) for name, t in texts.items()}
    print("perplexity: " + ", ".join(f"{name} {value:.1f}" for name, value in ppl.items()))

    references = [r for r, _, _ in ENDINGS]
    overlap = {
        kind: overlap_scores([e[i] for e in ENDINGS], references)
        for i, kind in (
            (0, "the reference itself"),
            (1, "same meaning, new words"),
            (2, "one word changed, meaning flipped"),
        )
    }
    print(f"| candidate ({len(ENDINGS)} sentences) | BLEU | chrF |\n|---|---:|---:|")
    for kind, s in overlap.items():
        print(f"| {kind} | {s['BLEU']:.1f} | {s['chrF']:.1f} |")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        plot_confusions(reports, Path(args.out) / "metrics.png")
    write_metrics(args.out, "metrics", {"reports": reports, "perplexity": ppl, "overlap": overlap})


if __name__ == "__main__":
    main()
