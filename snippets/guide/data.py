"""The guide's data, as every step reads it: the small world's documents, its stories, and
their opening sentences. snippets/data/world/ is written by guide/world.py (run
``python snippets/step3_pretraining/world.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from guide.errors import GuideError
from guide.world import DATA


def load_documents(path: str | Path = DATA / "documents.jsonl") -> list[dict]:
    """Every document of a .jsonl file, the small world's corpus by default."""
    if not Path(path).exists():
        raise GuideError(f"{path} is missing; regenerate it with python snippets/step3_pretraining/world.py")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --8<-- [start:stories]
def stories(split: str, n: int) -> list[dict]:
    """The first n stories of a split, each without its last sentence. That sentence says how
    the person felt, which would give the answer away; without it the model must read the
    day's event. Every task from Step 4 on draws its stories from here."""
    rows = [d for d in load_documents() if d["kind"] == "story" and d["split"] == split][:n]
    return [{**r, "text": r["text"].rsplit(". ", 1)[0] + "."} for r in rows]
    # --8<-- [end:stories]


def openings(split: str, n: int) -> list[str]:
    """The first sentence of each of the first n stories ("Ana Reed is a baker in Glenrock."):
    prompts for generation (Step 7's service, its benchmark and its quantisation check)."""
    return [r["text"].split(". ")[0] + "." for r in stories(split, n)]
