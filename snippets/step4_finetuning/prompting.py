"""Hard prompts, in-context learning, prompt tuning and prefix tuning, on the same task.

Run it: ``python snippets/step4_finetuning/prompting.py`` (``--model NAME_OR_PATH``, ``--out DIR``
saves prompting.json). The model answers by choosing the more likely of two endings, so every
method is scored the same way; the trained methods learn only a few thousand parameters.
"""

import time

# --8<-- [start:imports]
import torch
from peft import PrefixTuningConfig, PromptTuningConfig, TaskType, get_peft_model
from transformers import DataCollatorForSeq2Seq
from transformers.utils import logging

from guide import cli, data, seed_everything, write_metrics
from guide.model import load_causal_lm
from guide.scoring import log_prob
from step3_pretraining.pretrain import guide_model

# Answer words the model has read in its training stories ("Mara was happy", "Omar was upset"):
# words made of unfamiliar byte pieces would take far longer to learn.
LABELS = {"positive": " happy", "negative": " upset"}
# --8<-- [end:imports]


def stories(split, n):
    """(story, label, first name) triples from the guide's story loader."""
    return [(r["text"], r["sentiment"], r["person"].split()[0]) for r in data.stories(split, n)]


# --8<-- [start:score]
def accuracy(model, tokenizer, test, endings):
    """Pick the label whose ending the model finds more likely. ``endings(first_name)`` gives
    the two candidate endings for a story, positive first."""
    model.eval()
    right = 0
    for prefix, label, first in test:
        good, bad = endings(prefix, first)
        guess = "positive" if log_prob(model, tokenizer, *good) > log_prob(model, tokenizer, *bad) else "negative"
        right += guess == label
    return right / len(test)
    # --8<-- [end:score]


# --8<-- [start:hard]
def in_the_models_words(prefix, first):
    """A hard prompt phrased the way the training stories end: "<Name> was happy." """
    return (prefix, f" {first} was happy."), (prefix, f" {first} was upset.")


def as_a_question(prefix, first):
    """The same question in a format the model never saw: "Sentiment: positive"."""
    return (f"{prefix}\nSentiment:", LABELS["positive"]), (f"{prefix}\nSentiment:", LABELS["negative"])


def few_shot(examples):
    """In-context learning: labelled examples in the prompt, no weights change."""
    shots = "".join(f"{text}\nSentiment:{LABELS[label]}\n\n" for text, label, _ in examples)
    return lambda prefix, first: as_a_question(shots + prefix, first)
    # --8<-- [end:hard]


# --8<-- [start:soft]
def soft_prompt_model(model, method, n_virtual=8):
    """Prompt tuning learns n_virtual input embeddings placed before the text (Lester et al.,
    2021); prefix tuning learns keys and values fed to every layer's attention (Li and Liang,
    2021). The model itself stays frozen."""
    config = {"prompt tuning": PromptTuningConfig, "prefix tuning": PrefixTuningConfig}[method]
    return get_peft_model(model, config(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=n_virtual))


def label_only_batch(tokenizer, examples):
    """Question + answer as one sequence, with the loss on the answer tokens only: labels of
    the question's tokens are -100, so the model is not trained to write stories."""
    batch = []
    for text, label, _ in examples:
        q, a = tokenizer(f"{text}\nSentiment:")["input_ids"], tokenizer(LABELS[label])["input_ids"]
        batch.append({"input_ids": q + a, "labels": [-100] * len(q) + a})
    # pads input_ids with the pad token, labels with -100, and builds the attention mask
    return DataCollatorForSeq2Seq(tokenizer, return_tensors="pt")(batch)


def train_soft(model, tokenizer, train, steps=60, lr=3e-2, batch_size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(train), (batch_size,), generator=g).tolist()
        loss = model(**label_only_batch(tokenizer, [train[i] for i in idx])).loss
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
        optimizer.zero_grad()
    model.losses = (sum(losses[:5]) / 5, sum(losses[-5:]) / 5)  # first and last training losses
    return model.eval()
    # --8<-- [end:soft]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="prompting.json")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    seed_everything(0)
    train, test = stories("train", 600), stories("test", 200)
    tokenizer, model = load_causal_lm(args.model or guide_model())
    total = sum(p.numel() for p in model.parameters())
    rows = {}

    def record(name, trainable, endings, start):
        rows[name] = {
            "trainable": trainable,
            "accuracy": accuracy(model_in_use, tokenizer, test, endings),
            "seconds": time.perf_counter() - start,
        }

    model_in_use = model
    for name, endings in [
        ("hard prompt, the model's own words (zero-shot)", in_the_models_words),
        ("hard prompt, as a question (zero-shot)", as_a_question),
        ("in-context, 2 examples (few-shot)", few_shot(train[:2])),
    ]:
        record(name, 0, endings, time.perf_counter())
    for method in ("prompt tuning", "prefix tuning"):
        seed_everything(0)
        tokenizer, base = load_causal_lm(args.model or guide_model())
        start = time.perf_counter()
        model_in_use = train_soft(soft_prompt_model(base, method), tokenizer, train)
        trainable = sum(p.numel() for p in model_in_use.parameters() if p.requires_grad)
        record(f"{method}, 8 virtual tokens", trainable, as_a_question, start)
        rows[f"{method}, 8 virtual tokens"]["loss"] = model_in_use.losses

    print(f"{len(test)} held-out stories; every method picks the more likely of two endings")
    print("| method | trainable parameters | share | training loss, first → last | accuracy | time |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        loss = f"{r['loss'][0]:.2f} → {r['loss'][1]:.2f}" if "loss" in r else "–"
        print(
            f"| {name} | {r['trainable']:,} | {r['trainable'] / total:.2%} | {loss} | {r['accuracy']:.1%} "
            f"| {r['seconds']:.1f} s |"
        )
    write_metrics(
        args.out,
        "prompting",
        {
            "total": total,
            "rows": rows,
            # the share of the more common label: what always giving one answer scores
            "majority": max(sum(lab == s for _, lab, _ in test) for s in LABELS) / len(test),
        },
    )


if __name__ == "__main__":
    main()
