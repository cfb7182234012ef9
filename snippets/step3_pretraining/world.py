"""Write the guide's small world to disk, and say what is in it.

Run it: ``python snippets/step3_pretraining/world.py`` regenerates snippets/data/world/ (the same
bytes every time) from guide/world.py and prints what is in it. The data card page explains the
world's choices.
"""

from pathlib import Path

from guide import cli
from guide.world import DATA, fingerprint, generate, write


@cli.command(cache=False)
def main(argv=None):
    parser = cli.parser(__doc__)
    parser.add_argument("--out", type=Path, default=DATA, help="folder to write (default: snippets/data/world)")
    args = parser.parse_args(argv)
    docs, facts = generate()
    write(docs, facts, args.out)
    stories = [d for d in docs if d["kind"] == "story"]
    size = sum(len(d["text"].encode()) + 1 for d in docs)
    print(
        f"{len(docs):,} documents, {size / 1e6:.2f} MB of text; {len(stories):,} stories, "
        f"{len(docs) - len(stories):,} noise documents"
    )
    for split in ("train", "validation", "test"):
        print(f"  {split:<10} {sum(d['split'] == split for d in stories):>5,} stories")
    print(f"  positive share {sum(d['sentiment'] == 'positive' for d in stories) / len(stories):.3f}")
    print(
        f"{len(facts['people'])} people ({sum(not p['seen'] for p in facts['people'])} never in a story), "
        f"{len(facts['towns'])} towns"
    )
    print(f"fingerprint {fingerprint(args.out)}")


if __name__ == "__main__":
    main()
