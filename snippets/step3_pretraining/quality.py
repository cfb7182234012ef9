"""Data quality: deduplicate and filter the raw corpus, and score each rule against the truth.

Run it: ``python snippets/step3_pretraining/quality.py`` (``--out DIR`` saves quality.json).
The raw corpus mixes stories with the problems of a web crawl (copies, near-copies, spam,
mis-encoded text); the generator labelled each document, so we can count what every rule
catches and what it wrongly removes.
"""

# --8<-- [start:imports]
import hashlib
import re

import numpy as np

# --8<-- [end:imports]
# isort: split
from guide import cli, write_metrics
from guide.data import load_documents


# --8<-- [start:exact]
def normalise(text):
    """Lower-case, keep letters and digits only: copies that differ in spacing or punctuation
    become identical."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def exact_duplicates(docs):
    """Indices of documents whose normalised text was already seen (the first copy stays)."""
    seen, dupes = set(), set()
    for i, doc in enumerate(docs):
        key = hashlib.sha1(normalise(doc["text"]).encode()).hexdigest()
        if key in seen:
            dupes.add(i)
        seen.add(key)
    return dupes
    # --8<-- [end:exact]


# --8<-- [start:minhash]
def minhash_signatures(docs, n_hashes=64, shingle=5, seed=0):
    """MinHash: for each of n_hashes random hash functions, the smallest hash over a document's
    word 5-grams. Two documents agree on a signature entry with probability equal to the
    Jaccard similarity of their 5-gram sets."""
    rng = np.random.default_rng(seed)
    prime = (1 << 61) - 1
    a = rng.integers(1, prime, n_hashes, dtype=np.uint64)
    b = rng.integers(0, prime, n_hashes, dtype=np.uint64)
    signatures = np.empty((len(docs), n_hashes), dtype=np.uint64)
    for i, doc in enumerate(docs):
        words = normalise(doc["text"]).split() or [""]
        grams = {" ".join(words[j : j + shingle]) for j in range(max(1, len(words) - shingle + 1))}
        x = np.array(
            [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=7).digest(), "little") for g in grams],
            dtype=np.uint64,
        )
        signatures[i] = ((np.outer(x, a) + b) % prime).min(axis=0)  # wraps mod 2^64: still a fine hash
    return signatures


def near_duplicates(signatures, threshold=0.9, bands=16):
    """Locality-sensitive hashing: documents that share all rows of any band become candidate
    pairs; a candidate whose estimated Jaccard similarity reaches ``threshold`` is a duplicate."""
    rows = signatures.shape[1] // bands
    dupes, buckets = set(), {}
    for i, sig in enumerate(signatures):
        candidates = set()
        for band in range(bands):
            key = (band, sig[band * rows : (band + 1) * rows].tobytes())
            candidates.update(buckets.get(key, []))
            buckets.setdefault(key, []).append(i)
        if any((signatures[j] == sig).mean() >= threshold for j in candidates if j not in dupes):
            dupes.add(i)
    return dupes
    # --8<-- [end:minhash]


# --8<-- [start:filters]
STOPWORDS = {"the", "a", "and", "in", "of", "to", "is", "at", "on", "for", "its", "was", "as"}


def quality_problems(text):
    """Heuristic rules in the spirit of Gopher's (Rae et al., 2021): a document is dropped if
    it fails any. Each returns a reason, so a reader can see why a document went."""
    words = text.split()
    if len(words) < 8:
        return "too short"
    if sum(w.lower() in STOPWORDS for w in words) < 2:
        return "no stop words"  # real prose always has some; shuffled characters do not
    if sum(c.isupper() for c in text) > 0.3 * sum(c.isalpha() for c in text):
        return "mostly capitals"
    if len(set(words)) < 0.5 * len(words):
        return "repetitive"
    if re.search(r"click here|subscribe|buy cheap", text, re.I):
        return "spam phrase"
    return None
    # --8<-- [end:filters]


def clean(docs, threshold=0.9):
    """The cleaning pipeline: exact dedup, then near-dup, then quality filters."""
    exact = exact_duplicates(docs)
    kept = [i for i in range(len(docs)) if i not in exact]
    near = {kept[j] for j in near_duplicates(minhash_signatures([docs[i] for i in kept]), threshold)}
    reasons = {i: quality_problems(docs[i]["text"]) for i in kept if i not in near}
    removed = {"exact duplicate": exact, "near duplicate": near, "quality filter": {i for i, r in reasons.items() if r}}
    keep = [docs[i] for i in range(len(docs)) if not any(i in s for s in removed.values())]
    return keep, removed


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="quality.json")
    parser.add_argument("--threshold", type=float, default=0.9, help="MinHash Jaccard threshold")
    args = parser.parse_args(argv)
    if not 0 < args.threshold <= 1:
        parser.error("--threshold must be in (0, 1], e.g. 0.9")

    docs = load_documents()
    keep, removed = clean(docs, args.threshold)
    is_noise = [d["kind"] != "story" for d in docs]
    print(f"raw corpus: {len(docs):,} documents, {sum(is_noise):,} of them noise (labelled by the generator)")
    print(f"{'rule':<16} {'removed':>8} {'noise':>6} {'stories':>8}")
    report = {}
    for rule, idx in removed.items():
        noise = sum(is_noise[i] for i in idx)
        print(f"{rule:<16} {len(idx):>8,} {noise:>6,} {len(idx) - noise:>8,}")
        report[rule] = {"removed": len(idx), "noise": noise}
    gone = set().union(*removed.values())
    caught = sum(is_noise[i] for i in gone)
    precision, recall = caught / max(1, len(gone)), caught / max(1, sum(is_noise))
    print(f"kept {len(keep):,} documents; noise removed: recall {recall:.3f}, precision {precision:.3f}")
    write_metrics(
        args.out,
        "quality",
        {
            "documents": len(docs),
            "kept": len(keep),
            "rules": report,
            "precision": precision,
            "recall": recall,
            "megabytes": sum(len(d["text"].encode()) + 1 for d in docs) / 1e6,  # as world.py prints it
            "train_stories": sum(d["kind"] == "story" and d["split"] == "train" for d in docs),
            "train_stories_kept": sum(d["kind"] == "story" and d["split"] == "train" for d in keep),
            "train_noise_kept": sum(d["kind"] != "story" and d["split"] == "train" for d in keep),
        },
    )


if __name__ == "__main__":
    main()
