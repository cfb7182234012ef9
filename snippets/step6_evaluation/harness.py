"""A real evaluation harness: EleutherAI's lm-evaluation-harness on a task defined in this
repository, checked against the guide's own evaluation code on the same items.

Run it: ``python snippets/step6_evaluation/harness.py`` (``--model NAME_OR_PATH``; ``--out DIR``
saves harness.json; ``--write-data`` rewrites the task's items from the guide's world). It runs
the task in snippets/step6_evaluation/tasks/guide_sentiment.yaml through lm_eval's Python API,
offline, then scores the same items with guide.scoring.p_positive and compares, item by item.
"""

# --8<-- [start:imports]
import json
from pathlib import Path

import lm_eval
import yaml
from lm_eval.models.huggingface import HFLM

import guide.data
from guide.data import stories
from guide.scoring import p_positive

# --8<-- [end:imports]
# isort: split
from transformers.utils import logging

from guide import cli, write_metrics  # cli: the command line every example shares
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model

# --8<-- [start:items]
REPO = Path(guide.data.__file__).resolve().parents[2]  # the task's data path is relative to it
TASK = REPO / "snippets" / "step6_evaluation" / "tasks" / "guide_sentiment.yaml"


def items(n=200):
    """The task's items: held-out stories without their last sentence, the person's first
    name, and the label (1: a good day)."""
    return [
        {"text": r["text"], "first": r["person"].split()[0], "label": int(r["sentiment"] == "positive")}
        for r in stories("test", n)
    ]


def run_harness(model, tokenizer, task_file=TASK, limit=None):
    """lm_eval's own evaluation of our model object on the task the YAML file defines (its
    data path read from the repository's root, wherever this runs from); ``limit``: the first
    items only."""
    config = yaml.safe_load(task_file.read_text(encoding="utf-8"))
    files = config["dataset_kwargs"]["data_files"]
    config["dataset_kwargs"]["data_files"] = {split: str(REPO / path) for split, path in files.items()}
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=16, device="cpu")
    return lm_eval.simple_evaluate(model=lm, tasks=[config], log_samples=True, bootstrap_iters=0, limit=limit)


def guide_accuracy(model, tokenizer, rows):
    """The guide's own zero-shot classifier on the same items: is P(good day) above one half?"""
    guesses = [int(p_positive(model, tokenizer, r["text"], r["first"]) > 0.5) for r in rows]
    return guesses, sum(g == r["label"] for g, r in zip(guesses, rows)) / len(rows)
    # --8<-- [end:items]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="harness.json")
    parser.add_argument("--write-data", action="store_true", help="rewrite the task's JSONL from the guide's world")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    data = REPO / yaml.safe_load(TASK.read_text(encoding="utf-8"))["dataset_kwargs"]["data_files"]["test"]
    rows = items()
    if args.write_data:
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tokenizer, model = load_causal_lm(args.model or guide_model())
    # --8<-- [start:compare]
    results = run_harness(model, tokenizer)
    task = results["results"]["guide_sentiment"]
    theirs = [int(s["acc"]) for s in sorted(results["samples"]["guide_sentiment"], key=lambda s: s["doc_id"])]
    ours, accuracy = guide_accuracy(model, tokenizer, rows)
    same = sum(int(g == r["label"]) == t for g, r, t in zip(ours, rows, theirs))
    print(f"{len(rows)} held-out stories, zero-shot, the two endings scored by log-likelihood:")
    print(
        f"  lm-evaluation-harness {lm_eval.__version__}: acc {task['acc,none']:.1%}, acc_norm {task['acc_norm,none']:.1%}"
    )
    print(f"  the guide's p_positive:        acc {accuracy:.1%}")
    print(f"  items where both are right or both wrong: {same} of {len(rows)}")
    # --8<-- [end:compare]
    write_metrics(
        args.out,
        "harness",
        {
            "items": len(rows),
            "harness_acc": task["acc,none"],
            "harness_acc_norm": task["acc_norm,none"],
            "guide_acc": accuracy,
            "agree": same,
            "version": lm_eval.__version__,
        },
    )


if __name__ == "__main__":
    main()
