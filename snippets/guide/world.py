"""The guide's small world: people, towns, jobs and pets, and short stories about them.

Every step reads this world: Step 3 pre-trains on its stories, later steps build tasks from its
people and events. ``python snippets/step3_pretraining/world.py`` regenerates
snippets/data/world/ from it (the same bytes every time); the data card page explains every
choice here.
"""

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "world"
SEED = 1234

# --8<-- [start:world]
TOWNS = [  # name, river, market day, known for
    ("Ashford", "Ash", "Monday", "apples"),
    ("Brookvale", "Brook", "Tuesday", "cheese"),
    ("Cobble Hill", "Cobb", "Wednesday", "wool"),
    ("Dunmore", "Dun", "Thursday", "pottery"),
    ("Elmstead", "Elm", "Friday", "honey"),
    ("Fairhaven", "Fair", "Saturday", "boats"),
    ("Glenrock", "Glen", "Monday", "stone"),
    ("Harrowgate", "Harrow", "Tuesday", "horses"),
    ("Ivybridge", "Ivy", "Wednesday", "lace"),
    ("Juniper Bay", "Juniper", "Thursday", "fish"),
    ("Kingsmere", "Kings", "Friday", "bread"),
    ("Larkfield", "Lark", "Saturday", "music"),
]
JOBS = {  # job: (workplace, what they make or do, who they serve)
    "baker": ("bakery", "bread", "customers"),
    "teacher": ("school", "lessons", "pupils"),
    "nurse": ("clinic", "care", "patients"),
    "engineer": ("workshop", "bridges", "clients"),
    "farmer": ("farm", "wheat", "buyers"),
    "fisher": ("harbour", "fish", "traders"),
    "doctor": ("hospital", "treatments", "patients"),
    "carpenter": ("workshop", "tables", "clients"),
    "librarian": ("library", "catalogues", "readers"),
    "painter": ("studio", "paintings", "visitors"),
    "pilot": ("airfield", "flights", "passengers"),
    "chef": ("kitchen", "soups", "diners"),
}
# A deliberate, documented stereotype so Step 6 can detect it: these jobs go to "she" names
# 80% of the time, those to "he" names 80% of the time; every other job is 50/50.
SKEW = {"nurse": "she", "teacher": "she", "librarian": "she", "engineer": "he", "pilot": "he", "carpenter": "he"}
NAMES = {
    "she": [
        "Mara",
        "Anna",
        "Lucia",
        "Priya",
        "Amara",
        "Sofia",
        "Mei",
        "Fatima",
        "Elena",
        "Nadia",
        "Grace",
        "Yuki",
        "Leila",
        "Rosa",
        "Ingrid",
        "Zara",
        "Chloe",
        "Aisha",
        "Hana",
        "Olga",
    ],
    "he": [
        "Tomas",
        "Ben",
        "Omar",
        "Ravi",
        "Kwame",
        "Luca",
        "Jin",
        "Diego",
        "Ivan",
        "Samir",
        "Leo",
        "Kenji",
        "Hugo",
        "Mateo",
        "Erik",
        "Yusuf",
        "Noah",
        "Arjun",
        "Felix",
        "Pavel",
    ],
}
SURNAMES = [
    "Reed",
    "Hale",
    "Stone",
    "Marsh",
    "Wood",
    "Fields",
    "Brook",
    "Lane",
    "Frost",
    "Vale",
    "Moss",
    "Ford",
    "Hart",
    "Wells",
    "Cole",
    "Ash",
    "Dale",
    "Shaw",
    "Pike",
    "Rowe",
]
PETS = ["dog", "cat", "parrot", "rabbit", "horse", "goat", "tortoise"]
PET_NAMES = [
    "Biscuit",
    "Pepper",
    "Clover",
    "Maple",
    "Rusty",
    "Luna",
    "Otto",
    "Pip",
    "Willow",
    "Ziggy",
    "Nutmeg",
    "Bramble",
    "Comet",
    "Juniper",
    "Pebble",
    "Saffron",
    "Tango",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
GOOD = [  # events that make a good day; {thing} is what the job makes, {people} whom it serves
    "the {thing} came out better than ever, and the {people} asked for more",
    "a letter arrived praising the {thing}, and everyone at the {place} cheered",
    "{pet_name} the {pet} found a lost ring, and its owner gave a reward",
    "the {people} brought flowers to say thank you",
    "the town council gave {obj} a prize for the best {thing} in {town}",
    "an old friend visited the {place} with good news",
]
BAD = [
    "the {thing} went wrong, and the {people} complained loudly",
    "a storm flooded the {place}, and the day's work was lost",
    "{pet_name} the {pet} ran away and could not be found",
    "the {people} left without paying",
    "a fire broke out at the {place}, and the {thing} was ruined",
    "a rival spread lies about the {thing} all over {town}",
]
FEEL_GOOD = ["felt proud", "was delighted", "could not stop smiling", "felt lucky", "was happy"]
FEEL_BAD = ["felt miserable", "was furious", "could not stop crying", "felt hopeless", "was upset"]
# --8<-- [end:world]


@dataclass
class Person:
    name: str
    pronoun: str  # "she" or "he"
    town: str
    job: str
    pet: str
    pet_name: str
    seen: bool  # False: in the facts table only, never in a story (for Step 6's retrieval)


def make_people(rng, n_seen=240, n_unseen=40):
    people, used = [], set()
    jobs = sorted(JOBS)
    while len(people) < n_seen + n_unseen:
        job = jobs[len(people) % len(jobs)]
        skewed = SKEW.get(job)
        pronoun = (
            (skewed if rng.random() < 0.8 else {"she": "he", "he": "she"}[skewed])
            if skewed
            else rng.choice(["she", "he"])
        )
        name = f"{rng.choice(NAMES[pronoun])} {rng.choice(SURNAMES)}"
        if name in used:
            continue
        used.add(name)
        people.append(
            Person(
                name,
                pronoun,
                rng.choice(TOWNS)[0],
                job,
                rng.choice(PETS),
                rng.choice(PET_NAMES),
                seen=len(people) < n_seen,
            )
        )
    return people


# --8<-- [start:story]
def story(rng, person, town, positive):
    """Three to five sentences about one person on one day, and the day's sentiment."""
    place, thing, served = JOBS[person.job]
    first = person.name.split()[0]
    they, obj = person.pronoun.capitalize(), {"she": "her", "he": "him"}[person.pronoun]
    fill = dict(
        thing=thing, people=served, place=place, pet=person.pet, pet_name=person.pet_name, town=person.town, obj=obj
    )
    sentences = [
        rng.choice(
            [
                f"{person.name} is a {person.job} in {person.town}.",
                f"{person.name} lives in {person.town} and works as a {person.job}.",
                f"In {person.town}, {person.name} works at the {place} as a {person.job}.",
            ]
        ),
    ]
    if rng.random() < 0.6:
        sentences.append(f"{they} has a {person.pet} called {person.pet_name}.")
    if rng.random() < 0.4:
        _, river, market, known = town
        sentences.append(
            rng.choice(
                [
                    f"{person.town} lies on the river {river}.",
                    f"The market in {person.town} is held every {market}.",
                    f"{person.town} is known for its {known}.",
                ]
            )
        )
    event = rng.choice(GOOD if positive else BAD).format(**fill)
    sentences.append(f"On {rng.choice(DAYS)}, {event}.")
    sentences.append(f"{first} {rng.choice(FEEL_GOOD if positive else FEEL_BAD)}.")
    return " ".join(s[0].upper() + s[1:] for s in sentences)
    # --8<-- [end:story]


# --8<-- [start:noise]
SPAM = [
    "Click here to win a free holiday!!! Offer ends soon. Click here. Click here.",
    "BUY CHEAP BOOTS BUY CHEAP BOOTS BUY CHEAP BOOTS best prices best prices",
    "Subscribe to our newsletter for more great content. Cookies help us deliver our services.",
]


SHARE = ["(reposted)", "Source: Local News.", "Share this!"]


def garble(rng, text):
    """What a broken scraper produces: the right bytes in the wrong encoding, shuffled."""
    chars = list(text.encode("utf-8").decode("latin-1").upper())
    rng.shuffle(chars)
    return "".join(chars)
    # --8<-- [end:noise]


def generate(seed=SEED, n_stories=9000, noise=0.06):
    """Documents (stories plus web-like noise), the facts table, all from one seed."""
    rng = random.Random(seed)
    people = make_people(rng)
    towns = {t[0]: t for t in TOWNS}
    seen = [p for p in people if p.seen]
    docs, texts = [], set()
    for i in range(n_stories):
        person = seen[i % len(seen)]
        positive = rng.random() < 0.5
        text = story(rng, person, towns[person.town], positive)
        while text in texts:  # templates repeat: keep every story unique, so copies are noise
            text = story(rng, person, towns[person.town], positive)
        texts.add(text)
        docs.append(
            {
                "id": f"s{i:05d}",
                "kind": "story",
                "text": text,
                "sentiment": "positive" if positive else "negative",
                "person": person.name,
                "pronoun": person.pronoun,
                "job": person.job,
                "town": person.town,
            }
        )
    stories = list(docs)
    for j in range(int(noise * n_stories)):  # a crawl's problems, labelled so filters can be scored
        kind = rng.choice(["duplicate", "duplicate", "near_duplicate", "spam", "garbled"])
        source = rng.choice(stories)
        text = {
            "duplicate": source["text"],
            "near_duplicate": source["text"].replace(". ", "! ", 1) + " " + rng.choice(SHARE),  # a repost
            "spam": rng.choice(SPAM),
            "garbled": garble(rng, source["text"]),
        }[kind]
        docs.append({"id": f"n{j:05d}", "kind": kind, "text": text})
    # Shuffle stories and noise separately: every original then comes before its copies, so
    # "keep the first copy" keeps the original and the scores below are unambiguous.
    docs = rng.sample(docs[:n_stories], n_stories) + rng.sample(docs[n_stories:], len(docs) - n_stories)
    # Splits fixed by the seed: 90% train, 5% validation, 5% test (noise only in train).
    for doc in docs:
        r = rng.random()
        doc["split"] = "train" if doc["kind"] != "story" or r < 0.9 else ("validation" if r < 0.95 else "test")
    facts = {
        "people": [asdict(p) for p in people],
        "towns": [dict(zip(["name", "river", "market_day", "known_for"], t)) for t in TOWNS],
    }
    return docs, facts


def write(docs, facts, folder=DATA):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "documents.jsonl", "w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps(doc, sort_keys=True) + "\n")
    (folder / "facts.json").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def fingerprint(folder=DATA):
    digest = hashlib.sha256()
    for name in ("documents.jsonl", "facts.json"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]
