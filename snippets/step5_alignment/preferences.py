"""Preference data from the guide's world: (prompt, chosen, rejected), labelled by its rule.

Run it: ``python snippets/step5_alignment/preferences.py`` (``--out DIR`` saves
preferences.json). The rule is guide/rule.py's judge. It prints the rule's scores, a pair of
each kind, and how the pairs split between training and held-out people.
"""

# --8<-- [start:imports]
import math
import random
from collections import Counter

from guide.rule import judge
from guide.world import BAD, DAYS, FEEL_BAD, FEEL_GOOD, GOOD, JOBS, SEED, TOWNS, make_people

# --8<-- [end:imports]
# isort: split
from guide import cli, write_metrics  # cli: the command line every example shares


# --8<-- [start:pairs]
def _opening_and_fill(rng, person, town):
    """The story up to its event (the prompt), and the words the event templates need."""
    place, thing, served = JOBS[person.job]
    they, obj = person.pronoun.capitalize(), {"she": "her", "he": "him"}[person.pronoun]
    sentences = [
        rng.choice(
            [
                f"{person.name} is a {person.job} in {person.town}.",
                f"{person.name} lives in {person.town} and works as a {person.job}.",
            ]
        )
    ]
    if rng.random() < 0.6:
        sentences.append(f"{they} has a {person.pet} called {person.pet_name}.")
    if rng.random() < 0.4:
        sentences.append(f"{person.town} lies on the river {town[1]}.")
    fill = dict(
        thing=thing, people=served, place=place, pet=person.pet, pet_name=person.pet_name, town=person.town, obj=obj
    )
    return " ".join(sentences), fill


def response(rng, person, fill, good_day, fitting_end):
    """One ending for a prompt: a good or bad day, and a feeling that fits it or not. It starts
    with a space, so prompt + response is the text a model reads (TRL joins them like that)."""
    event = rng.choice(GOOD if good_day else BAD).format(**fill)
    event = event[0].lower() + event[1:] if not event.startswith(person.pet_name) else event
    feeling = rng.choice(FEEL_GOOD if good_day == fitting_end else FEEL_BAD)
    return f" On {rng.choice(DAYS)}, {event}. {person.name.split()[0]} {feeling}."


KINDS = {  # (good day?, fitting ending?) of the chosen and of the rejected response
    "good vs bad day": ((True, True), (False, True)),
    "fitting vs clashing ending": ((True, True), (True, False)),
    "bad day, fitting vs clashing": ((False, True), (False, False)),
    "clashing good vs fitting bad": ((True, False), (False, True)),
    "story vs broken story": ((True, True), "broken"),
}


def broken(rng, text):
    """The ways a small model's samples go wrong: a word stuttered, a sentence cut short, or two
    events run together; tried until the rule calls the result 'not a story'."""
    out = _break(rng, text)
    while judge(out) > -2:
        out = _break(rng, text)
    return out


def _break(rng, text):
    words = text.split(" ")
    how = rng.randrange(3)
    if how == 0:
        i = rng.randrange(2, len(words) - 1)
        return " ".join(words[:i] + [words[i]] * rng.randint(2, 4) + words[i:])
    if how == 1:
        return " ".join(words[: rng.randrange(3, len(words) - 2)])
    event = rng.choice(GOOD + BAD).split(",")[0].split(" and ")[0]
    i = rng.randrange(3, len(words) - 2)
    return " ".join(words[:i] + event.replace("{", "").replace("}", "").split(" ") + words[i:])


def prompts(split, n, seed=0):
    """n prompts (story openings) with a writer for each: write(good_day, fitting_end) returns
    a response to that prompt. People are split in two: held-out prompts are about people no
    training prompt mentions."""
    people = sorted((p for p in make_people(random.Random(SEED)) if p.seen), key=lambda p: p.name)
    people = people[::2] if split == "train" else people[1::2]
    towns = {t[0]: t for t in TOWNS}
    rng = random.Random(f"{seed}-{split}")
    out = []
    for _ in range(n):
        person = rng.choice(people)
        prompt, fill = _opening_and_fill(rng, person, towns[person.town])
        out.append((prompt, lambda good, fits, person=person, fill=fill: response(rng, person, fill, good, fits)))
    return out


def preference_pairs(split, n, seed=0):
    """n pairs, an equal number of each kind. Both responses share the prompt and differ in the
    day, the ending or both, so the reward model has to read, not spot one word."""
    pairs, kinds, rng = [], list(KINDS), random.Random(f"broken-{seed}-{split}")
    for i, (prompt, write) in enumerate(prompts(split, n, seed)):
        kind = kinds[i % len(kinds)]
        chosen, rejected = KINDS[kind]
        chosen = write(*chosen)
        rejected = broken(rng, chosen) if rejected == "broken" else write(*rejected)
        pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "kind": kind})
    return pairs
    # --8<-- [end:pairs]


# --8<-- [start:annotate]
def annotate(pairs, agreement=1.5, seed=0):
    """What people would hand us: each pair labelled by an annotator who agrees with the rule
    with probability sigmoid(agreement x score gap), the Bradley-Terry model itself. Close calls
    (a gap of 1) are flipped about one time in five, clear ones (a gap of 2 or 3) rarely. The
    reward model learns from these noisy labels and is graded against the rule."""
    rng, out = random.Random(seed), []
    for p in pairs:
        gap = judge(p["chosen"]) - judge(p["rejected"])
        agrees = rng.random() < 1 / (1 + math.exp(-agreement * gap))
        out.append(p if agrees else {**p, "chosen": p["rejected"], "rejected": p["chosen"]})
    return out
    # --8<-- [end:annotate]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="preferences.json")
    args = parser.parse_args(argv)

    train, test = preference_pairs("train", 2000), preference_pairs("test", 400)
    labelled = annotate(train)
    for kind in KINDS:
        pair = next(p for p in test if p["kind"] == kind)
        print(
            f"{kind}:\n  prompt   {pair['prompt']}\n  chosen   {pair['chosen']}  (rule: {judge(pair['chosen']):+.1f})"
            f"\n  rejected {pair['rejected']}  (rule: {judge(pair['rejected']):+.1f})"
        )
    agree = sum(judge(p["chosen"]) > judge(p["rejected"]) for p in labelled) / len(labelled)
    names = lambda pairs: {p["prompt"].split(" is ")[0].split(" lives ")[0] for p in pairs}  # noqa: E731
    print(f"{len(train)} training pairs, {len(test)} held-out pairs; people shared: {len(names(train) & names(test))}")
    print(
        f"the annotators' labels agree with the rule on {agree:.1%} of training pairs; held-out pairs follow the rule"
    )
    print(f"pairs of each kind: {dict(Counter(p['kind'] for p in train))}")
    write_metrics(args.out, "preferences", {"train": len(train), "test": len(test), "agree": agree})


if __name__ == "__main__":
    main()
