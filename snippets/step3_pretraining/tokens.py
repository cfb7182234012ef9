"""What text costs in tokens: the guide's tokenizer on its own world, on other English, on
numbers and on Japanese.

Run it: ``python snippets/step3_pretraining/tokens.py`` (``--model NAME_OR_PATH`` takes another
tokenizer; ``--out DIR`` saves tokens.json). It prints tokens per word (per character for
Japanese, which puts no spaces between words) and how the tokenizer splits one sample of each.
"""

# --8<-- [start:imports]
from guide.data import stories

# --8<-- [end:imports]
# isort: split
from guide import cli, write_metrics  # cli: the command line every example shares
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model

# --8<-- [start:measure]
SAMPLES = {  # the world's held-out stories, and text the tokenizer never saw
    "the world's stories": " ".join(r["text"] for r in stories("test", 50)),
    "other English prose": (
        "The committee postponed its decision until the auditors had reviewed every invoice. "
        "Meanwhile, volunteers repaired the greenhouse, catalogued the seeds and planned a "
        "festival for the autumn, hoping the weather would be kinder than last year."
    ),
    "numbers": "In 2025 the shop sold 1,284 loaves at 3.75 each, 17% more than the 1,097 of 2024.",
    "Japanese": "マラは港町で漁師として働いています。火曜日、嵐で港が浸水し、一日の仕事が失われました。",
}


def cost(tokenizer, text):
    """Tokens, and tokens per word (per character where the text has no spaces)."""
    n = len(tokenizer(text)["input_ids"])
    units = len(text.split()) if " " in text else len(text)
    return n, n / units


def pieces(tokenizer, text, limit=12):
    """The first tokens of a text as the strings they stand for (bytes that end mid-character
    show as the replacement character)."""
    ids = tokenizer(text)["input_ids"][:limit]
    return [tokenizer.decode([i]) for i in ids]
    # --8<-- [end:measure]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="tokens.json")
    args = parser.parse_args(argv)
    tokenizer, _ = load_causal_lm(args.model or guide_model())
    table = {}
    print(f"a tokenizer of {len(tokenizer):,} tokens:")
    print("| text | tokens | per word | bytes per token |\n|---|---:|---:|---:|")
    for name, text in SAMPLES.items():
        n, per = cost(tokenizer, text)
        table[name] = {"tokens": n, "per_unit": per, "bytes_per_token": len(text.encode()) / n}
        unit = "per character" if " " not in text else ""
        print(f"| {name} | {n:,} | {per:.2f} {unit} | {table[name]['bytes_per_token']:.1f} |".replace("  |", " |"))
    for name in ("other English prose", "numbers", "Japanese"):
        print(f"{name}: {pieces(tokenizer, SAMPLES[name])}")
    write_metrics(args.out, "tokens", table)


if __name__ == "__main__":
    main()
