"""Contamination: does an evaluation set appear in the pre-training corpus?

Run it: ``python snippets/step6_evaluation/contamination.py`` (``--out DIR`` saves
contamination.json). It checks the harness's 200 items against what Step 3 pre-trains on (the
cleaned training split) by word n-gram overlap and by verbatim containment, then plants 20 of
them in a copy of the corpus and checks that the test finds them. Last, it measures what a
contamination does to a score: the perplexity of the planted items after a short fine-tune with
and without them.
"""

# --8<-- [start:imports]
import random
from statistics import median

# --8<-- [end:imports]
# isort: split
import json
from pathlib import Path

from guide import cli, pick_device, seed_everything, write_metrics  # cli: the command line every example shares
from guide.data import load_documents
from guide.model import load_causal_lm
from guide.runtime import GENERATED
from guide.scoring import perplexity
from step3_pretraining.pretrain import guide_model, read_corpus, token_blocks, train

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


# --8<-- [start:inflation]
def fine_tuned_on(texts, steps=60):
    """The guide's model after a short fine-tune on ``texts``, with Step 3's loop."""
    tokenizer, model = load_causal_lm(guide_model())
    blocks = token_blocks(tokenizer, texts)
    train(
        model,
        blocks,
        blocks[:8],
        pick_device("cpu"),
        steps=steps,
        peak_lr=1e-3,
        warmup_steps=5,
        eval_every=steps,
        progress=False,
    )
    return tokenizer, model.eval()


def inflation(planted, held_out, corpus, seed=0):
    """Perplexity of the planted test items and of other held-out items, after fine-tuning on a
    corpus sample with the planted items in it, and on the same sample with as many training
    stories in their place."""
    rng = random.Random(seed)
    base = rng.sample(corpus, 100)
    runs = {"clean": base + rng.sample(corpus, len(planted)), "contaminated": base + planted}
    out = {}
    for name, texts in runs.items():
        seed_everything(seed)
        tokenizer, model = fine_tuned_on(texts)
        out[name] = {
            "planted": perplexity(model, tokenizer, planted),
            "held out": perplexity(model, tokenizer, held_out),
        }
    return out
    # --8<-- [end:inflation]


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
    before = contamination(items, corpus)
    natural = summary(before)
    # plant 20 items, as a scrape that swept up a benchmark would
    planted = random.Random(0).sample(range(len(items)), 20)
    mixed = corpus + [items[i] for i in planted]
    found = contamination(items, mixed)
    flagged = {i for i, r in enumerate(found) if r["verbatim"]}
    natural_hits = {i for i, r in enumerate(before) if r["verbatim"]}
    print(f"{len(items)} evaluation items (the harness's task) against {len(corpus):,} pre-training documents:")
    print(f"  every 13-gram of the item in the corpus: {natural['all_ngrams_seen']} items")
    print(f"  at least one 13-gram in the corpus:      {natural['any_ngram_seen']} items")
    print(f"  median share of 13-grams in the corpus:  {natural['median_overlap']:.0%}")
    print(f"  the whole item verbatim in a document:   {natural['verbatim']} items")
    print(
        f"with 20 items planted in the corpus, verbatim containment flags {len(flagged)}: "
        f"all {len(flagged & set(planted))} planted ones and the {len(flagged - set(planted))} found before"
    )
    # what a contamination does to a score: the planted items' full stories in a fine-tuning mix
    stories = [d["text"] for d in load_documents() if d["split"] == "test" and d["kind"] == "story"][: len(items)]
    chosen = [stories[i] for i in planted]
    others = [stories[i] for i in range(len(stories)) if i not in set(planted) and i not in natural_hits][:40]
    ppl = inflation(chosen, others, corpus)
    print("perplexity after a short fine-tune (60 steps) on 120 stories, the planted items among them or not:")
    for name, r in ppl.items():
        print(f"  {name:<13} planted test items {r['planted']:.2f}, other held-out items {r['held out']:.2f}")
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
            "perplexity": ppl,
        },
    )


if __name__ == "__main__":
    main()
