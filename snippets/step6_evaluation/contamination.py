"""Contamination: does an evaluation set appear in the pre-training corpus?

Run it: ``python snippets/step6_evaluation/contamination.py`` (``--out DIR`` saves
contamination.json). It checks the harness's 200 items against what Step 3 pre-trains on (the
cleaned training split) by word n-gram overlap and by verbatim containment, then plants 20 of
them in a copy of the corpus and checks that the test finds them.
"""

# --8<-- [start:imports]
from statistics import median

# --8<-- [end:imports]
# isort: split
import json
import random
from pathlib import Path

from guide import cli, write_metrics  # cli: the command line every example shares
from guide.runtime import GENERATED
from step3_pretraining.pretrain import read_corpus

ITEMS = GENERATED.parent.parent / "snippets" / "data" / "eval" / "guide_sentiment.jsonl"


# --8<-- [start:check]
def ngrams(text, n):
    words = text.split()
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def contamination(items, corpus, n=13):
    """For each evaluation item: the share of its word n-grams found anywhere in the corpus
    (GPT-3's check used 13-grams), and whether the whole item appears verbatim in a document."""
    seen = {g for doc in corpus for g in ngrams(doc, n)}
    joined = "\n".join(corpus)
    out = []
    for item in items:
        grams = ngrams(item, n)
        out.append({"overlap": sum(g in seen for g in grams) / max(1, len(grams)), "verbatim": item in joined})
    return out
    # --8<-- [end:check]


def summary(results):
    return {
        "items": len(results),
        "verbatim": sum(r["verbatim"] for r in results),
        "all_ngrams_seen": sum(r["overlap"] == 1.0 for r in results),
        "any_ngram_seen": sum(r["overlap"] > 0 for r in results),
        "median_overlap": median(r["overlap"] for r in results),
    }


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="contamination.json")
    args = parser.parse_args(argv)

    items = [json.loads(line)["text"] for line in Path(ITEMS).read_text(encoding="utf-8").splitlines()]
    corpus = read_corpus()["train"]  # what Step 3 pre-trains on: the training split, cleaned
    natural = summary(contamination(items, corpus))
    # plant 20 items, as a scrape that swept up a benchmark would
    planted = random.Random(0).sample(range(len(items)), 20)
    mixed = corpus + [items[i] for i in planted]
    found = contamination(items, mixed)
    flagged = {i for i, r in enumerate(found) if r["verbatim"]}
    natural_hits = {i for i, r in enumerate(contamination(items, corpus)) if r["verbatim"]}
    print(f"{len(items)} evaluation items (the harness's task) against {len(corpus):,} pre-training documents:")
    print(f"  every 13-gram of the item in the corpus: {natural['all_ngrams_seen']} items")
    print(f"  at least one 13-gram in the corpus:      {natural['any_ngram_seen']} items")
    print(f"  median share of 13-grams in the corpus:  {natural['median_overlap']:.0%}")
    print(f"  the whole item verbatim in a document:   {natural['verbatim']} items")
    print(
        f"with 20 items planted in the corpus, verbatim containment flags {len(flagged)}: "
        f"all {len(flagged & set(planted))} planted ones and the {len(flagged - set(planted))} found before"
    )
    write_metrics(
        args.out,
        "contamination",
        {
            "natural": natural,
            "planted": len(planted),
            "planted_found": len(flagged & set(planted)),
            "flagged": len(flagged),
            "flagged_not_planted": len(flagged - set(planted)),
            "natural_verbatim_ids": sorted(natural_hits),
        },
    )


if __name__ == "__main__":
    main()
