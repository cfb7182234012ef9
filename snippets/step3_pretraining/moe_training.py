"""A mixture of experts against a dense model with the same active parameters, and the experts'
load with and without the balancing loss.

Run it: ``python snippets/step3_pretraining/moe_training.py`` (three models, 200 steps each, a
few minutes; ``--steps N`` for another budget; ``--out DIR`` saves moe_training.json and .txt,
``--page`` writes them to docs/generated/ for the Step 3 page). The models are transformers'
Llama and Mixtral, whose MoE layer Step 2 proves equal to its own; all read the guide's tokens
and train with Step 3's loop and settings.
"""

# --8<-- [start:imports]
import torch
from transformers import LlamaConfig, LlamaForCausalLM, MixtralConfig, MixtralForCausalLM

# --8<-- [end:imports]
# isort: split
import sys
import time

import torch.nn.functional as F

from guide import cli, pick_device  # cli: the command line every example shares
from guide.runtime import write_report
from step3_pretraining.pretrain import comparison_args, guide_tokens, trained_alike


# --8<-- [start:models]
def shared(tokenizer):
    """What the three models have in common: the guide's width, depth, heads and tokens."""
    return dict(
        vocab_size=len(tokenizer),
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def dense(tokenizer):
    """One SwiGLU network per block, as wide as two experts: the MoE's active size."""
    return LlamaForCausalLM(LlamaConfig(**shared(tokenizer), intermediate_size=2 * 344))


def mixture(tokenizer, balance):
    """Eight experts 344 wide per block, two per token; ``balance`` weighs the load-balancing
    loss that the model adds to its language-modelling loss (0: none)."""
    config = MixtralConfig(
        **shared(tokenizer),
        intermediate_size=344,
        num_local_experts=8,
        num_experts_per_tok=2,
        output_router_logits=True,  # the forward pass returns them and adds the balancing loss
        router_aux_loss_coef=balance,
    )
    return MixtralForCausalLM(config)


@torch.no_grad()
def expert_load(model, blocks, top_k=2):
    """The share of routing choices each expert of each layer gets on ``blocks``."""
    model.eval()
    logits = model(input_ids=blocks).router_logits  # one (tokens, experts) tensor per layer
    model.train()
    return [
        torch.bincount(layer.topk(top_k, -1).indices.flatten(), minlength=layer.size(-1))
        .div(layer.size(0) * top_k)
        .tolist()
        for layer in logits
    ]
    # --8<-- [end:models]


@torch.no_grad()
def lm_loss(model, blocks, batch_size=64):
    """Mean next-token cross-entropy: the language-modelling loss alone (a Mixtral's ``.loss``
    also holds its balancing loss)."""
    model.eval()
    total = 0.0
    for i in range(0, len(blocks), batch_size):
        x = blocks[i : i + batch_size]
        logits = model(input_ids=x).logits[:, :-1]
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1)).item() * len(x)
    model.train()
    return total / len(blocks)


def active_parameters(model):
    """Parameters one token passes through: all of them for a dense model; for a mixture, the
    router and top_k of its experts instead of all of them."""
    total = sum(p.numel() for p in model.parameters())
    config = model.config
    if not hasattr(config, "num_local_experts"):
        return total
    per_expert = 3 * config.hidden_size * config.intermediate_size
    unused = (config.num_local_experts - config.num_experts_per_tok) * per_expert * config.num_hidden_layers
    return total - unused


def report(record):
    lines = [f"{record['steps']} steps of batches of 16 x 128 tokens, the same data and seed for all:"]
    lines.append("| model | parameters | active per token | validation loss | training tokens/s | busiest expert |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for name, r in record["models"].items():
        busiest = f"{max(max(layer) for layer in r['load']):.0%}" if r["load"] else "(dense)"
        lines.append(
            f"| {name} | {r['parameters']:,} | {r['active']:,} | {r['val_loss']:.3f} | {r['tokens_per_s']:,.0f} | {busiest} |"
        )
    lines.append("expert load (share of routing choices; 8 experts, so 12.5% each when even):")
    for name, r in record["models"].items():
        for i, layer in enumerate(r["load"]):
            lines.append(f"  {name}, layer {i}: " + " ".join(f"{x:.0%}" for x in layer))
    return "\n".join(lines) + "\n"


@cli.command(cache=False)  # --page writes to docs/generated/, outside --out
def main(argv=None):
    args = comparison_args(__doc__, "moe_training.json and moe_training.txt", argv)

    device = pick_device(args.device)
    tokenizer, train_blocks, val_blocks = guide_tokens()
    builds = {
        "dense (SwiGLU 688 wide)": dense,
        "MoE, balancing loss 0.01": lambda t: mixture(t, 0.01),
        "MoE, no balancing loss": lambda t: mixture(t, 0.0),
    }
    models = {}
    for name, build in builds.items():
        model, seconds = trained_alike(build, tokenizer, train_blocks, val_blocks, device, args.steps)
        models[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "active": active_parameters(model),
            "val_loss": lm_loss(model, val_blocks.to(device)),
            "tokens_per_s": args.steps * 16 * train_blocks.shape[1] / seconds,
            "load": expert_load(model, val_blocks[:64].to(device)) if name != "dense (SwiGLU 688 wide)" else [],
        }
        print(f"{name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    record = {"steps": args.steps, "models": models, "run": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print(report(record), end="")
    write_report(record, report(record), args.out, "moe_training", args.page and "step3_moe_training")


if __name__ == "__main__":
    main()
