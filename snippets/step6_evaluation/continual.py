"""Continual learning: new data arrives; fine-tune on it, measure forgetting, mitigate with replay.

Run it: ``python snippets/step6_evaluation/continual.py`` (``--model NAME_OR_PATH``; ``--out DIR``
saves continual.json and continual.png). The guide's model, pre-trained on stories, meets a new
kind of document: registry entries about people. Perplexity on held-out stories and on entries
is tracked as it learns, and after it, whether it recalls the facts of the entries it trained on.
"""

import random

# --8<-- [start:imports]
import torch

from guide.scoring import choose
from guide.world import JOBS, PETS, TOWNS
from step3_pretraining.pretrain import evaluate, token_blocks

# --8<-- [end:imports]
# isort: split
import math
from pathlib import Path

from matplotlib.figure import Figure
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.data import load_documents
from guide.model import load_causal_lm
from guide.world import SEED, make_people
from step3_pretraining.pretrain import guide_model

# --8<-- [start:data]
PHRASINGS = [  # the new documents; the last phrasing is held out to test generalisation
    "Registry entry. Name: {name}. Job: {job}. Town: {town}. Pet: a {pet} called {pet_name}.",
    "{name} ({job}, {town}) keeps a {pet} named {pet_name}.",
    "Resident {name} of {town} works as a {job}; pet: {pet} '{pet_name}'.",
    "In the records of {town}: {name}, {job}, owner of a {pet} called {pet_name}.",
]


def registry(people, phrasings):
    return [
        p.format(name=x.name, job=x.job, town=x.town, pet=x.pet, pet_name=x.pet_name) for x in people for p in phrasings
    ]


def recall(model, tokenizer, people):
    """Does the model know the facts, not just the format? For each person, the first entry
    phrasing up to a fact, and which of the possible values the model finds most likely next.
    Chance is 1 in 12 for a job or a town and 1 in 7 for a pet."""
    right = {"job": 0, "town": 0, "pet": 0}
    for x in people:
        entry = f"Registry entry. Name: {x.name}. Job:"
        right["job"] += choose(model, tokenizer, entry, sorted(JOBS)) == x.job
        entry += f" {x.job}. Town:"
        right["town"] += choose(model, tokenizer, entry, sorted(t[0] for t in TOWNS)) == x.town
        right["pet"] += choose(model, tokenizer, f"{entry} {x.town}. Pet: a", sorted(PETS)) == x.pet
    return {fact: n / len(people) for fact, n in right.items()}
    # --8<-- [end:data]


# --8<-- [start:loop]
def fine_tune(model, new_blocks, old_blocks, evals, steps=80, replay=0.0, lr=2e-3, batch=16, every=20, seed=0):
    """Train on the new blocks; with replay > 0, that share of every batch is old blocks.
    Returns perplexity on each evaluation set every ``every`` steps."""
    device = torch.device("cpu")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    n_old = round(batch * replay)
    curve = [{"step": 0, **{k: evaluate(model, v, device) for k, v in evals.items()}}]
    model.train()
    for step in range(1, steps + 1):
        x = new_blocks[torch.randint(len(new_blocks), (batch - n_old,), generator=g)]
        if n_old:
            x = torch.cat([x, old_blocks[torch.randint(len(old_blocks), (n_old,), generator=g)]])
        loss = model(input_ids=x, labels=x).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % every == 0:
            curve.append({"step": step, **{k: evaluate(model, v, device) for k, v in evals.items()}})
    return model.eval(), curve
    # --8<-- [end:loop]


STEPS, BATCH = 80, 16  # each run's fine-tuning


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="continual.json and continual.png")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    tokenizer, _ = load_causal_lm(args.model or guide_model())
    people = make_people(random.Random(SEED))
    random.Random(0).shuffle(people)
    train_people, test_people = people[:220], people[220:]
    stories = {
        split: [d["text"] for d in load_documents() if d["kind"] == "story" and d["split"] == split]
        for split in ("train", "test")
    }
    # replay draws on pre-training's own split; forgetting is measured on stories it never trained on
    old_train, old_test = (
        token_blocks(tokenizer, stories["train"][:3000]),
        token_blocks(tokenizer, stories["test"][:300]),
    )
    evals = {
        "old: held-out stories": old_test,
        "new: trained entries": token_blocks(tokenizer, registry(train_people, PHRASINGS[:1])),
        "new: other people's entries": token_blocks(tokenizer, registry(test_people, PHRASINGS[:1])),
        "new: unseen phrasing": token_blocks(tokenizer, registry(test_people, PHRASINGS[3:])),
    }
    quizzed = train_people[:60]  # people the runs train on: recall of their facts
    runs = {
        "new data only": (PHRASINGS[:1], 0.0),
        "new data + 25% replay": (PHRASINGS[:1], 0.25),
        "augmented (3 phrasings) + replay": (PHRASINGS[:3], 0.25),
    }
    results, recalled, exposures = {}, {}, {}
    for name, (phrasings, replay) in runs.items():
        seed_everything(0)
        _, model = load_causal_lm(args.model or guide_model(), log=lambda _: None)
        recalled.setdefault("before fine-tuning", recall(model, tokenizer, quizzed))
        new = token_blocks(tokenizer, registry(train_people, phrasings))
        model, curve = fine_tune(model, new, old_train, evals, steps=STEPS, batch=BATCH, replay=replay)
        results[name], recalled[name] = curve, recall(model, tokenizer, quizzed)
        exposures[name] = STEPS * (BATCH - round(BATCH * replay)) / len(new)  # times each new block was trained on

    words = lambda texts: sum(len(t.split()) for t in texts)  # noqa: E731
    tokens = lambda texts: sum(len(i) for i in tokenizer(texts)["input_ids"])  # noqa: E731
    new_texts = registry(test_people, PHRASINGS)
    print(f"new documents: registry entries for {len(train_people)} people (tested on {len(test_people)} others)")
    print(
        f"tokens per word: stories {tokens(stories['test'][:300]) / words(stories['test'][:300]):.2f}, "
        f"registry entries {tokens(new_texts) / words(new_texts):.2f}"
    )
    print(f"perplexity before -> after {STEPS} steps of fine-tuning")
    print(f"| run | {' | '.join(evals)} |\n|---|" + "---:|" * len(evals))
    for name, curve in results.items():
        cells = " | ".join(f"{math.exp(curve[0][k]):.1f} -> {math.exp(curve[-1][k]):.1f}" for k in evals)
        print(f"| {name} | {cells} |")
    print(
        "times each trained entry went through the model: "
        + ", ".join(f"{n:.0f} ({name})" for name, n in exposures.items())
    )
    print(
        f"facts recalled, for {len(quizzed)} of the people trained on (chance: 8% for a job or a town, 14% for a pet)"
    )
    print("| model | job | town | pet |\n|---|---:|---:|---:|")
    for name, r in recalled.items():
        print(f"| {name} | {r['job']:.0%} | {r['town']:.0%} | {r['pet']:.0%} |")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        plot(results, list(evals), Path(args.out) / "continual.png")
    write_metrics(
        args.out,
        "continual",
        {
            "curves": {
                name: [{k: (math.exp(v) if k != "step" else v) for k, v in c.items()} for c in curve]
                for name, curve in results.items()
            },
            "recall": recalled,
            "exposures": exposures,
        },
    )


def plot(results, keys, path):
    fig = Figure(figsize=(4 * len(keys), 3.4))
    for ax, key in zip(fig.subplots(1, len(keys)), keys):
        for name, curve in results.items():
            ax.plot([c["step"] for c in curve], [math.exp(c[key]) for c in curve], marker="o", label=name)
        ax.set(title=key, xlabel="fine-tuning step", ylabel="perplexity (log scale)", yscale="log")
    fig.axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
