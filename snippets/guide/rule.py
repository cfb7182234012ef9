"""The rule behind the guide's preference data: what makes a story good, as a program.

Step 5 labels preference pairs with it and grades every policy against it; Step 3 scores
decoded text with it. It accepts exactly the stories the world writes: one day, one event built
from the world's own words, one feeling (a detail about the pet or the town may come first).
"""

# --8<-- [start:imports]
import re

from guide.world import BAD, DAYS, FEEL_BAD, FEEL_GOOD, GOOD, JOBS, PET_NAMES, PETS, TOWNS

# --8<-- [end:imports]


# --8<-- [start:judge]
# The story's day is what readers care about most; an ending that contradicts the day reads
# as nonsense. Text that is not one day and one ending is not a story at all. Each blank takes
# only the world's own words for it, so "a prize for the best the best bread" is no story.
WORDS = {
    "place": {place for place, _, _ in JOBS.values()},
    "thing": {thing for _, thing, _ in JOBS.values()},
    "people": {people for _, _, people in JOBS.values()},
    "pet": set(PETS),
    "pet_name": set(PET_NAMES),
    "town": {town for town, _, _, _ in TOWNS},
    "river": {river for _, river, _, _ in TOWNS},
    "day": set(DAYS),
    "obj": {"her", "him"},
    "they": {"He", "She"},
}


def pattern(template):
    """A regular expression for a template: each {blank} matches one of its words, no more."""

    def words(blank):
        return "(?:" + "|".join(map(re.escape, sorted(WORDS[blank[1]]))) + ")"

    return re.sub(r"\\\{(\w+)\\\}", words, re.escape(template))


EVENT = {pattern(e): kind for kinds, kind in ((GOOD, 1), (BAD, -1)) for e in kinds}
FEELING = {f: kind for kinds, kind in ((FEEL_GOOD, 1), (FEEL_BAD, -1)) for f in kinds}
DETAILS = [
    "{they} has a {pet} called {pet_name}",
    "{town} lies on the river {river}",
    "The market in {town} is held every {day}",
]
DETAIL = "|".join(map(pattern, DETAILS))
STORY = re.compile(rf"(?:(?:{DETAIL})\. )*On {pattern('{day}')}, (.+)\. (\w+) ({'|'.join(FEELING)})\.")


def judge(response):
    """The labelling rule, a stand-in for a person: +1 for a good day, -1 for a bad one, then
    +0.5 if the ending fits the day and -0.5 if it clashes; -2 for anything that is not one
    "On <day>, <event>. <Name> <feeling>." story (a detail about the pet or town may come first)."""
    match = STORY.fullmatch(response.strip())
    if not match:
        return -2.0
    event, _, feeling = match.groups()
    day = next((kind for regex, kind in EVENT.items() if re.fullmatch(regex, event)), None)
    if day is None:
        return -2.0
    return day + (0.5 if FEELING[feeling] == day else -0.5)
    # --8<-- [end:judge]
