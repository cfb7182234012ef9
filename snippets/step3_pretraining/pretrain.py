"""Pre-train the guide's own tokenizer and tiny GPT-2 on the small-world corpus, in seconds.

Run it: ``python snippets/step3_pretraining/pretrain.py`` saves the model where every later step
finds it (``--save DIR`` picks another folder); ``--out DIR`` also writes pretrain.json and a
loss-curve plot. A plain PyTorch loop: AdamW, warm-up then cosine decay, gradient accumulation,
clipping, bf16 autocast on GPUs, checkpoints.
"""

# --8<-- [start:imports]
import json
import math
import sys
import time
from pathlib import Path

import torch
from tokenizers import ByteLevelBPETokenizer
from tqdm.auto import tqdm
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

# --8<-- [end:imports]
# isort: split
import guide.data
import guide.runtime
from guide import cli, pick_device, seed_everything, write_metrics
from guide.cache import build_key, cached_build, save_atomically
from guide.errors import GuideError
from guide.model import BUILD_COMMAND, guide_model_dir, load_causal_lm
from guide.world import DATA
from step3_pretraining.quality import clean

PROMPTS = ["Mara Reed is a", "On Friday, the"]


# --8<-- [start:tokenizer]
def train_tokenizer(texts, vocab_size=2048):
    """Byte-level BPE, as GPT-2 uses: start from the 256 byte values and merge the most
    frequent neighbouring pair until the vocabulary has ``vocab_size`` entries."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts,
        vocab_size=vocab_size,
        min_frequency=2,
        show_progress=False,
        special_tokens=["<|endoftext|>", "<pad>", "<mask>"],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    # --8<-- [end:tokenizer]


# --8<-- [start:blocks]
def token_blocks(tokenizer, texts, block_size=128):
    """Join the documents, an end-of-text token after each, and cut the stream into equal
    blocks: no padding, so every position of every block is a training example."""
    ids = []
    for doc in tokenizer(texts)["input_ids"]:
        ids.extend(doc + [tokenizer.eos_token_id])
    n_blocks = len(ids) // block_size
    return torch.tensor(ids[: n_blocks * block_size]).view(n_blocks, block_size)
    # --8<-- [end:blocks]


# --8<-- [start:model]
def make_model(tokenizer, width=128, layers=2, heads=4, context=128):
    """A GPT-2 of about 0.54M parameters. The special tokens' ids come from our tokenizer, so
    they lie inside the vocabulary (GPT-2's defaults, 50256, would not)."""
    return GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=context,
            n_embd=width,
            n_layer=layers,
            n_head=heads,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    # --8<-- [end:model]


# --8<-- [start:schedule]
def learning_rate(step, total_steps, peak, warmup_steps):
    """Linear warm-up (large early updates from random weights are unstable), then cosine
    decay to zero (small steps at the end settle into a minimum)."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))
    # --8<-- [end:schedule]


@torch.no_grad()
def evaluate(model, blocks, device, batch_size=64):
    """Mean next-token cross-entropy over ``blocks``; perplexity is exp of it."""
    model.eval()
    total = 0.0
    for i in range(0, len(blocks), batch_size):
        x = blocks[i : i + batch_size].to(device)
        total += model(input_ids=x, labels=x).loss.item() * len(x)
    model.train()
    return total / len(blocks)


# --8<-- [start:loop]
def train(
    model,
    train_blocks,
    val_blocks,
    device,
    steps=200,
    batch_size=16,
    grad_accum=1,
    peak_lr=3e-3,
    warmup_steps=20,
    clip=1.0,
    weight_decay=0.1,
    eval_every=25,
    checkpoint_every=None,
    checkpoint_dir=None,
    seed=0,
    progress=True,
):
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    amp = device.type == "cuda"  # bf16 autocast on GPUs: faster, half the activation memory
    batches = torch.Generator().manual_seed(seed)
    history, running = [], []
    for step in tqdm(range(steps), desc="pre-training", leave=False, disable=not progress):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, peak_lr, warmup_steps)
        for _ in range(grad_accum):  # a batch of batch_size * grad_accum blocks, in pieces
            x = train_blocks[torch.randint(len(train_blocks), (batch_size,), generator=batches)].to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = model(input_ids=x, labels=x).loss / grad_accum  # labels shift inside
            loss.backward()
            running.append(loss.item() * grad_accum)
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)  # tames rare huge gradients
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            history.append(
                {
                    "step": step + 1,
                    "lr": optimizer.param_groups[0]["lr"],
                    "train_loss": sum(running) / len(running),
                    "val_loss": evaluate(model, val_blocks, device),
                }
            )
            running = []
        if checkpoint_every and (step + 1) % checkpoint_every == 0:
            model.save_pretrained(Path(checkpoint_dir) / f"step-{step + 1}")  # resume or compare later
    return history
    # --8<-- [end:loop]


def samples(tokenizer, model, device, prompts=PROMPTS, seed=0):
    """Sampled continuations (temperature 0.8): what the model writes, not just its loss."""
    torch.manual_seed(seed)
    model.eval()
    out = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(device)
        gen = model.generate(
            ids, max_new_tokens=28, do_sample=True, temperature=0.8, top_k=50, pad_token_id=tokenizer.pad_token_id
        )
        out.append(tokenizer.decode(gen[0], skip_special_tokens=True))
    model.train()
    return out


def recipe(steps=200, corpus=None, device=None) -> str:
    """The build key of a pre-trained model: a hash of everything that decides its weights (this
    file, the cleaning code, the data loader, the seeding and thread settings, the corpus) and
    of the settings (steps, device, threads, torch version). guide_model() rebuilds a saved
    model whose key differs, so no step ever runs on a model made by older code or data."""
    here = Path(__file__).resolve().parent
    files = [here / "pretrain.py", here / "quality.py", Path(guide.data.__file__), Path(guide.runtime.__file__)]
    files.append(DATA / "documents.jsonl" if corpus is None else Path(corpus))
    settings = {"steps": steps, "device": pick_device(device).type, "threads": guide.runtime.THREADS}
    return build_key(*files, {**settings, "torch": torch.__version__})


def guide_model(build_if_missing=True, log=None) -> Path:
    """The folder of the guide's model, built there first (about a minute, once) when it is
    missing or was built from older code or data. Every later step calls this before
    ``guide.model.load_causal_lm(None)``; with ``build_if_missing=False`` it raises instead."""

    def write(folder):
        tokenizer, model, training_log = build(quiet=True)
        _write(folder, tokenizer, model, training_log)

    how = f"Build it (about a minute): {BUILD_COMMAND}"
    log = log or (lambda msg: print(msg, file=sys.stderr))
    return cached_build(guide_model_dir(), recipe(), write, "the guide's model", log, build_if_missing, how)


def guide_tokens():
    """(tokenizer, training blocks, validation blocks) of the guide's model and corpus: what
    every model of Step 3's comparisons reads, so they differ only in the model."""
    tokenizer, _ = load_causal_lm(guide_model())
    texts = read_corpus()
    return tokenizer, *(token_blocks(tokenizer, texts[split]) for split in ("train", "validation"))


def trained_alike(build, tokenizer, train_blocks, val_blocks, device, steps):
    """``build(tokenizer)`` trained as every model of Step 3's comparisons is: seed 0, this
    file's loop and settings, one evaluation at the end. Returns the model and the seconds."""
    seed_everything(0)
    model = build(tokenizer).to(device)
    start = time.perf_counter()
    train(model, train_blocks, val_blocks, device, steps=steps, eval_every=steps, progress=False)
    return model, time.perf_counter() - start


def comparison_args(doc, out, argv):
    """The command line of Step 3's comparisons: --steps, --device, --page and --out."""
    parser = cli.parser(doc, out=out)
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps for each model (default 200)")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--page", action="store_true", help="write them to docs/generated/ for the Step 3 page")
    args = parser.parse_args(argv)
    if not 10 <= args.steps <= 2000:
        parser.error("--steps must be between 10 and 2000")
    return args


def read_corpus(path=None):
    """The small-world corpus by default; or your own: a .jsonl file of {"text": ...} records
    (an optional "split" of train/validation/test), or a .txt file of blank-line-separated
    documents, of which every 20th is held out for validation."""
    if path is None:
        docs = guide.data.load_documents()
    else:
        path = Path(path)
        if not path.is_file():
            raise GuideError(f"--corpus {path}: no such file. Give a .jsonl or .txt file.")
        if path.suffix == ".jsonl":
            docs = guide.data.load_documents(path)
            for i, doc in enumerate(docs):
                doc.setdefault("split", "validation" if i % 20 == 19 else "train")
        else:
            paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
            docs = [{"text": p, "split": "validation" if i % 20 == 19 else "train"} for i, p in enumerate(paragraphs)]
    docs, _ = clean(docs) if docs else (docs, None)
    texts = {split: [d["text"] for d in docs if d.get("split") == split] for split in ("train", "validation")}
    if not texts["train"] or not texts["validation"]:
        where = path or "snippets/data/world/documents.jsonl"
        raise GuideError(
            f"the corpus {where} has {len(texts['train'])} training and "
            f"{len(texts['validation'])} validation documents after cleaning; pre-training "
            "needs both. Give it more text (at least 20 documents), or regenerate the "
            "guide's corpus with python snippets/step3_pretraining/world.py"
        )
    return texts


def build(save=None, steps=200, out=None, device=None, quiet=False, corpus=None):
    """Everything the command does; guide_model() calls it to build the guide's model."""
    say = (lambda *a: None) if quiet else print
    start = time.perf_counter()
    seed_everything(0)
    device = pick_device(device)
    texts = read_corpus(corpus)
    tokenizer = train_tokenizer(texts["train"])
    train_blocks, val_blocks = (token_blocks(tokenizer, texts[s]) for s in ("train", "validation"))
    model = make_model(tokenizer).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    say(
        f"device: {device.type}; corpus: {len(texts['train']):,} training documents, "
        f"{train_blocks.numel():,} tokens; vocabulary {len(tokenizer):,}; model {n_params:,} parameters"
    )

    untrained = evaluate(model, val_blocks, device)
    before = samples(tokenizer, model, device)
    history = train(model, train_blocks, val_blocks, device, steps=steps, progress=not quiet)
    final = history[-1]["val_loss"]
    seconds = time.perf_counter() - start
    after = samples(tokenizer, model, device)

    say(
        f"validation loss {untrained:.2f} -> {final:.2f}; perplexity {math.exp(untrained):,.0f} -> "
        f"{math.exp(final):.2f} ({math.exp(untrained - final):,.0f}x lower) in {seconds:.1f} s"
    )
    for title, texts_ in (("before training", before), ("after training", after)):
        say(f"samples {title}:")
        for text in texts_:
            say(f"  {text!r}")
    log = {
        "recipe": recipe(steps, corpus, device),
        "device": device.type,
        "parameters": n_params,
        "vocab_size": len(tokenizer),
        "train_documents": len(texts["train"]),
        "train_tokens": train_blocks.numel(),
        "steps": steps,
        "seconds": seconds,
        "untrained_val_loss": untrained,
        "final_val_loss": final,
        "history": history,
        "samples_before": before,
        "samples_after": after,
    }
    if save:
        save_atomically(save, lambda tmp: _write(tmp, tokenizer, model, log), key=log["recipe"])
        say(f"saved to {save}")
    if out:
        write_metrics(out, "pretrain", log)
        plot_history(history, untrained, Path(out) / "loss_curve.png")
    return tokenizer, model, log


def _write(folder, tokenizer, model, log):
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    (folder / "training_log.json").write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")


def plot_history(history, untrained, path=None):
    import matplotlib  # noqa: PLC0415 -- optional: not in the service image, which imports this module
    import matplotlib.ticker  # noqa: PLC0415 -- optional: not in the service image, which imports this module

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- optional (as above), and imported after use("Agg")

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    steps = [0] + [h["step"] for h in history]
    ax.plot(steps[1:], [h["train_loss"] for h in history], "o-", label="train (mean since last point)")
    ax.plot(steps, [untrained] + [h["val_loss"] for h in history], "s-", label="validation")
    ax.set(
        xlabel="optimizer step",
        ylabel="cross-entropy (nats), log scale",
        yscale="log",
        title="Pre-training the guide's tiny GPT-2",
    )
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


@cli.command(cache=False)
def main(argv=None):
    parser = cli.parser(__doc__, out="pretrain.json and loss_curve.png")
    parser.add_argument("--save", default=None, help=f"where to save (default: {guide_model_dir()})")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps (default 200)")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--corpus", help="train on your own .jsonl or .txt file instead of the guide's corpus")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    build(save=args.save or guide_model_dir(), steps=args.steps, out=args.out, device=args.device, corpus=args.corpus)


if __name__ == "__main__":
    main()
