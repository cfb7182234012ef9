"""The guide's GPT-2 against a Llama-style model of the same width and depth, trained alike.

Run it: ``python snippets/step3_pretraining/llama_style.py`` (200 steps each, about a minute and
a half; ``--steps N`` for another budget; ``--out DIR`` saves llama_style.json and .txt,
``--page`` writes them to docs/generated/ for the Step 3 page). Both models read the guide's
tokens and train with Step 3's loop and settings; the run prints validation loss, parameters,
KV-cache bytes per token and training speed.
"""

# --8<-- [start:imports]
from transformers import LlamaConfig, LlamaForCausalLM

# --8<-- [end:imports]
# isort: split
import json
import sys
import time
from pathlib import Path

from guide import cli, pick_device, seed_everything  # cli: the command line every example shares
from guide.model import load_causal_lm
from step3_pretraining.pretrain import evaluate, guide_model, make_model, read_corpus, token_blocks, train

GENERATED = Path(__file__).resolve().parents[2] / "docs" / "generated"


# --8<-- [start:config]
def llama_style(tokenizer, width=128, layers=2, heads=4, kv_heads=2, context=128):
    """Step 2's modern block in transformers' Llama: RMSNorm, RoPE, SwiGLU about 8/3 as wide as
    the model, grouped-query attention, no biases; the head tied to the embeddings as GPT-2's is."""
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=width,
            intermediate_size=344 * width // 128,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            max_position_embeddings=context,
            tie_word_embeddings=True,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    # --8<-- [end:config]


def kv_bytes_per_token(config, bytes_per_number=4):
    """2 (keys and values) x layers x KV heads x head size x bytes."""
    layers = getattr(config, "num_hidden_layers", None) or config.n_layer
    heads = getattr(config, "num_attention_heads", None) or config.n_head
    kv = getattr(config, "num_key_value_heads", None) or heads
    width = getattr(config, "hidden_size", None) or config.n_embd
    return 2 * layers * kv * (width // heads) * bytes_per_number


def report(record):
    lines = [f"{record['steps']} steps of batches of 16 x 128 tokens, the same data and seed for both:"]
    lines.append("| model | parameters | validation loss | KV cache per token | training tokens/s |")
    lines.append("|---|---:|---:|---:|---:|")
    for name, r in record["models"].items():
        lines.append(
            f"| {name} | {r['parameters']:,} | {r['val_loss']:.3f} | {r['kv_bytes_per_token']:,} bytes "
            f"| {r['tokens_per_s']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


@cli.command(cache=False)  # --page writes to docs/generated/, outside --out
def main(argv=None):
    parser = cli.parser(__doc__, out="llama_style.json and llama_style.txt")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps for each model (default 200)")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--page", action="store_true", help="write them to docs/generated/ for the Step 3 page")
    args = parser.parse_args(argv)
    if not 10 <= args.steps <= 2000:
        parser.error("--steps must be between 10 and 2000")

    device = pick_device(args.device)
    tokenizer, _ = load_causal_lm(guide_model())
    texts = read_corpus()
    train_blocks, val_blocks = (token_blocks(tokenizer, texts[s]) for s in ("train", "validation"))
    models = {}
    for name, build in (("GPT-2 (the guide's)", make_model), ("Llama-style, 2 KV heads", llama_style)):
        seed_everything(0)
        model = build(tokenizer).to(device)
        start = time.perf_counter()
        train(model, train_blocks, val_blocks, device, steps=args.steps, eval_every=args.steps, progress=False)
        seconds = time.perf_counter() - start
        models[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "val_loss": evaluate(model, val_blocks, device),
            "kv_bytes_per_token": kv_bytes_per_token(model.config),
            "tokens_per_s": args.steps * 16 * train_blocks.shape[1] / seconds,
        }
        print(f"{name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    record = {"steps": args.steps, "models": models, "run": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print(report(record), end="")
    for folder, stem in ((args.out, "llama_style"), (args.page and GENERATED, "step3_llama_style")):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            (Path(folder) / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            (Path(folder) / f"{stem}.txt").write_text(report(record), encoding="utf-8")


if __name__ == "__main__":
    main()
