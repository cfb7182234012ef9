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
import sys
import time

from guide import cli, pick_device  # cli: the command line every example shares
from guide.runtime import write_report
from step3_pretraining.kv_cache import cache_bytes
from step3_pretraining.pretrain import comparison_args, evaluate, guide_tokens, make_model, trained_alike


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


def kv_bytes_per_token(config):
    """The KV cache formula (kv_cache.cache_bytes) for one token in float32, from either
    library's config (GPT-2 names its sizes n_layer, n_head, n_embd)."""
    layers = getattr(config, "num_hidden_layers", None) or config.n_layer
    heads = getattr(config, "num_attention_heads", None) or config.n_head
    kv = getattr(config, "num_key_value_heads", None) or heads
    width = getattr(config, "hidden_size", None) or config.n_embd
    return cache_bytes(layers, kv, width // heads, tokens=1)


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
    args = comparison_args(__doc__, "llama_style.json and llama_style.txt", argv)

    device = pick_device(args.device)
    tokenizer, train_blocks, val_blocks = guide_tokens()
    models = {}
    for name, build in (("GPT-2 (the guide's)", make_model), ("Llama-style, 2 KV heads", llama_style)):
        model, seconds = trained_alike(build, tokenizer, train_blocks, val_blocks, device, args.steps)
        models[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "val_loss": evaluate(model, val_blocks, device),
            "kv_bytes_per_token": kv_bytes_per_token(model.config),
            "tokens_per_s": args.steps * 16 * train_blocks.shape[1] / seconds,
        }
        print(f"{name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    record = {"steps": args.steps, "models": models, "run": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print(report(record), end="")
    write_report(record, report(record), args.out, "llama_style", args.page and "step3_llama_style")


if __name__ == "__main__":
    main()
