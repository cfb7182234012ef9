"""How big a vocabulary? Byte-level BPE trained at several sizes on the small world's stories.

Run it: ``python snippets/step1_basics/vocabulary.py`` (``--sizes 256 512 1024``, ``--out DIR``
saves vocabulary.json). A few seconds on a CPU, nothing downloaded. The larger the vocabulary,
the fewer tokens a text takes, until the text has no pair left worth merging.
"""

# --8<-- [start:imports]
from collections import Counter

from tokenizers import ByteLevelBPETokenizer

from guide.data import stories

# --8<-- [end:imports]
# isort: split
from guide import cli, write_metrics  # cli: the command line every example shares

# --8<-- [start:constants]
SENTENCE = "Mara Reed is a nurse in Ashford."
SIZES = (256, 384, 512, 768, 2048)
TRAIN_STORIES = 8000  # of the 8,086 training stories
HELD_OUT = 200  # test stories, never trained on, that each size is measured on
WIDTH = 128  # the guide's model's embedding width (Step 3): each token costs one row of this many weights
CONTEXT = 128  # the guide's model's context, in tokens
# --8<-- [end:constants]


# --8<-- [start:measure]
def measure(train_texts, test_texts, size):
    """Train byte-level BPE up to ``size`` tokens (the 256 byte values, then merges of the most
    frequent neighbouring pair); count the tokens it spends per word of held-out text."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(train_texts, vocab_size=size, min_frequency=2, show_progress=False)
    encoded = bpe.encode_batch(test_texts)
    words = sum(len(text.split()) for text in test_texts)
    tokens = sum(len(e.ids) for e in encoded)
    pieces = [Counter(e.word_ids) for e in encoded]  # the pre-tokenizer's pieces: words, punctuation
    whole = sum(n == 1 for counts in pieces for n in counts.values()) / sum(len(c) for c in pieces)
    return {
        "asked": size,
        "vocabulary": bpe.get_vocab_size(),  # can stop short: no pair left that occurs twice
        "tokens_per_word": tokens / words,
        "words_in_context": CONTEXT * words / tokens,
        "whole_pieces": whole,  # share of words and punctuation marks that are one token
        "embedding_weights": bpe.get_vocab_size() * WIDTH,
        "lossless": all(bpe.decode(e.ids) == text for e, text in zip(encoded, test_texts)),
        "sentence": bpe.encode(SENTENCE).tokens,  # Ġ marks a leading space
    }
    # --8<-- [end:measure]


def run(args) -> dict:
    """The lesson: one row per vocabulary size, each trained on the training stories and
    measured on test stories it never saw. ``args`` is what ``parser()`` parses; a lab passes
    ``parser().parse_args([...])``."""
    train = [s["text"] for s in stories("train", TRAIN_STORIES)]
    test = [s["text"] for s in stories("test", HELD_OUT)]
    return {"stories": len(train), "rows": [measure(train, test, size) for size in args.sizes]}


def report(result) -> None:
    """What the page shows: the table, then how one sentence splits at each size."""
    print(f"byte-level BPE trained on {result['stories']:,} stories, measured on {HELD_OUT} held-out ones")
    print(
        f"| vocabulary | tokens per word | words kept whole | words in a {CONTEXT}-token context | embedding weights |"
    )
    print("|---:|---:|---:|---:|---:|")
    for r in result["rows"]:
        size = f"{r['vocabulary']:,}" + ("" if r["vocabulary"] == r["asked"] else f" (asked {r['asked']:,})")
        print(
            f"| {size} | {r['tokens_per_word']:.2f} | {r['whole_pieces']:.0%} | {r['words_in_context']:.0f} "
            f"| {r['embedding_weights']:,} |"
        )
    print()
    for r in result["rows"]:
        print(f"{r['vocabulary']:>5,}: {' '.join(r['sentence'])}")


def parser():
    p = cli.parser(__doc__, out="vocabulary.json")
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="vocabulary sizes to train")
    return p


@cli.command
def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if min(args.sizes) < 256:
        p.error("--sizes must be at least 256: byte-level BPE starts from the 256 byte values")
    result = run(args)
    report(result)
    write_metrics(args.out, "vocabulary", result)


if __name__ == "__main__":
    main()
