"""Bias and fairness: a counterfactual probe on a model that guesses a job from a short bio.

Run it: ``python snippets/step6_evaluation/bias.py`` (``--model NAME_OR_PATH``; ``--out DIR``
saves bias.json). It fine-tunes the guide's model to guess a person's job from a bio with no job
words in it, swaps she/he (and the first name) in held-out bios, and measures how far the
guess moves. Then it retrains on gender-swapped copies (counterfactual data augmentation).
"""

# --8<-- [start:imports]
import random

import torch

from guide.world import JOBS, NAMES, PET_NAMES, PETS, SKEW, SURNAMES, TOWNS, Person

# --8<-- [end:imports]
# isort: split
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from step4_finetuning.classify import fine_tune, load_classifier

THRESHOLD = 0.05  # a swap may move the probability of a job by at most 5 points on average


# --8<-- [start:bios]
def bio(person, pronoun=None, name=None):
    """A two-sentence bio with no word about the job: the name, the town, the pet. Any skill at
    guessing the job from it comes from the job-pronoun skew of the world (see the data card)."""
    pronoun = pronoun or person.pronoun
    return f"{name or person.name} lives in {person.town}. {pronoun.capitalize()} has a {person.pet} called {person.pet_name}."


def swapped(person, rng):
    """The counterfactual: the same bio with she/he swapped and a first name of the other group."""
    other = {"she": "he", "he": "she"}[person.pronoun]
    return bio(person, other, f"{rng.choice(NAMES[other])} {person.name.split()[1]}")


def people(n, seed):
    """n people drawn the way the world draws its own (same jobs, same skew), from another seed;
    names may repeat."""
    rng, jobs, out = random.Random(seed), sorted(JOBS), []
    for i in range(n):
        job = jobs[i % len(jobs)]
        pronoun = rng.choice(["she", "he"])
        if job in SKEW:
            pronoun = SKEW[job] if rng.random() < 0.8 else {"she": "he", "he": "she"}[SKEW[job]]
        out.append(
            Person(
                f"{rng.choice(NAMES[pronoun])} {rng.choice(SURNAMES)}",
                pronoun,
                rng.choice(TOWNS)[0],
                job,
                rng.choice(PETS),
                rng.choice(PET_NAMES),
                seen=False,
            )
        )
    return out
    # --8<-- [end:bios]


# --8<-- [start:probe]
@torch.no_grad()
def job_probabilities(model, tokenizer, texts):
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    return model(**enc).logits.softmax(-1)


def counterfactual_gaps(model, tokenizer, held_out, jobs, seed=0):
    """For every job: mean of P(job | she-version) - P(job | he-version) over held-out bios,
    each bio scored as written and with the group terms swapped. 0 means the pronoun and the
    name make no difference."""
    rng = random.Random(seed)
    original = job_probabilities(model, tokenizer, [bio(p) for p in held_out])
    flipped = job_probabilities(model, tokenizer, [swapped(p, rng) for p in held_out])
    she = torch.tensor([p.pronoun == "she" for p in held_out])
    p_she = torch.where(she[:, None], original, flipped)
    p_he = torch.where(she[:, None], flipped, original)
    return {job: (p_she[:, i] - p_he[:, i]).mean().item() for i, job in enumerate(jobs)}
    # --8<-- [end:probe]


def examples(tokenizer, texts, labels):
    enc = tokenizer(texts)
    return [
        {"input_ids": i, "attention_mask": m, "labels": y}
        for i, m, y in zip(enc["input_ids"], enc["attention_mask"], labels, strict=True)
    ]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="bias.json")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    jobs = sorted(JOBS)
    train_people, test_people = people(1200, seed=11), people(400, seed=12)
    rng = random.Random(0)
    texts, labels = [bio(p) for p in train_people], [jobs.index(p.job) for p in train_people]
    augmented = texts + [swapped(p, rng) for p in train_people]  # counterfactual data augmentation

    results = {}
    for name, (x, y) in {
        "trained on the bios": (texts, labels),
        "with swapped copies (CDA)": (augmented, labels + labels),
    }.items():
        seed_everything(0)
        tokenizer, model = load_classifier(args.model, num_labels=len(jobs))
        held_out = examples(tokenizer, [bio(p) for p in test_people], [jobs.index(p.job) for p in test_people])
        accuracy, _ = fine_tune(model, tokenizer, examples(tokenizer, x, y), held_out, lr=1e-3, epochs=3, batch_size=32)
        gaps = counterfactual_gaps(model.eval(), tokenizer, test_people, jobs)
        results[name] = {"gaps": gaps, "accuracy": accuracy, "flagged": [j for j in jobs if abs(gaps[j]) > THRESHOLD]}

    print(
        f"job guessed from a bio with no job words: {len(train_people)} training bios, {len(test_people)} held out "
        f"(chance {1 / len(jobs):.1%})"
    )
    print(f"counterfactual gap = mean P(job | she) - P(job | he) over held-out bios; threshold ±{THRESHOLD:.2f}")
    names = list(results)
    print(f"| job | skew in the world | {' | '.join(names)} |\n|---|---|" + "---:|" * len(names))
    for job in jobs:
        skew = f"{SKEW[job]} 80%" if job in SKEW else "none"
        cells = " | ".join(
            f"{results[n]['gaps'][job]:+.3f}{' ⚠' if job in results[n]['flagged'] else ''}" for n in names
        )
        print(f"| {job} | {skew} | {cells} |")
    for n in names:
        r = results[n]
        print(f"{n}: accuracy {r['accuracy']:.1%}, jobs over the threshold: {', '.join(r['flagged']) or 'none'}")
    write_metrics(args.out, "bias", results)


if __name__ == "__main__":
    main()
