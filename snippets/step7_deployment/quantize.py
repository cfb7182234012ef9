"""int8 dynamic quantisation on a CPU: weights stored as 8-bit integers, activations quantised on
the fly. What it does to latency, size and quality, measured rather than assumed.

Run it: ``python snippets/step7_deployment/quantize.py`` (``--model NAME_OR_PATH``). The server
serves the quantised model with ``app.py --int8``.
"""

# --8<-- [start:imports]
import io
import statistics
import time
import warnings

import torch
from torch.ao.quantization import quantize_dynamic
from transformers.pytorch_utils import Conv1D

# --8<-- [end:imports]
# isort: split
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.data import openings, stories
from guide.model import load_causal_lm
from guide.scoring import p_positive, perplexity
from step3_pretraining.pretrain import guide_model


# --8<-- [start:int8]
def conv1d_to_linear(model):
    """GPT-2 keeps its projections in transformers' Conv1D (a Linear with the weight transposed).
    Quantisation only knows nn.Linear, so swap them first; the outputs stay the same."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, Conv1D):
                linear = torch.nn.Linear(child.weight.shape[0], child.weight.shape[1])
                linear.weight.data, linear.bias.data = child.weight.data.T.contiguous(), child.bias.data
                setattr(parent, name, linear)
    return model


def int8_dynamic(model):
    """Every nn.Linear's weight becomes int8 (one scale per tensor); activations are quantised
    per batch as they arrive. Embeddings and layer norms stay in float32."""
    with warnings.catch_warnings():  # torch.ao's eager API is deprecated in favour of torchao (GPU-first)
        warnings.simplefilter("ignore")
        return quantize_dynamic(conv1d_to_linear(model).eval(), {torch.nn.Linear}, dtype=torch.qint8)
        # --8<-- [end:int8]


def size_mb(model):
    """Bytes of the saved state dict (what the weights cost on disk and in memory)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 1e6


@torch.no_grad()
def latency_ms(model, tokenizer, prompts, new_tokens=32, batch=1, repeats=5):
    """Median wall time of one greedy generate() of ``new_tokens`` tokens for ``batch`` prompts."""
    enc = tokenizer(prompts[:batch], return_tensors="pt", padding=True, padding_side="left")
    times = []
    for _ in range(repeats + 1):  # the first call warms up
        start = time.perf_counter()
        model.generate(
            **enc,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times[1:])


@torch.no_grad()
def greedy(model, tokenizer, prompt, new_tokens=24):
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return out[0, ids.shape[1] :].tolist()


@torch.no_grad()
def mlp_ms(width, rows=16, repeats=50):
    """A transformer MLP block (width -> 4 x width -> width) on ``rows`` tokens: float32 vs int8 ms.
    Our model's width is 128; GPT-2 small's is 768; 1B-parameter models' about 2048."""
    block = torch.nn.Sequential(torch.nn.Linear(width, 4 * width), torch.nn.GELU(), torch.nn.Linear(4 * width, width))
    x, times = torch.randn(rows, width), []
    for net in (block.eval(), int8_dynamic(block)):
        for _ in range(3):
            net(x)
        start = time.perf_counter()
        for _ in range(repeats):
            net(x)
        times.append(1000 * (time.perf_counter() - start) / repeats)
    return times


def compare(models, tokenizer, n_stories=200, n_prompts=50):
    """Latency, size and quality for each model; quality = held-out perplexity, Step 6's
    zero-shot sentiment accuracy, and agreement with the float32 model's greedy tokens."""
    rows, prompts = stories("test", n_stories), openings("test", n_stories)
    reference = {p: greedy(models["float32"], tokenizer, p) for p in prompts[:n_prompts]}
    results = {}
    for name, model in models.items():
        guesses = [p_positive(model, tokenizer, r["text"], r["person"].split()[0]) > 0.5 for r in rows]
        same = [greedy(model, tokenizer, p) == ids for p, ids in reference.items()]
        results[name] = {
            "size_mb": size_mb(model),
            "latency_ms_batch_1": latency_ms(model, tokenizer, prompts, batch=1),
            "latency_ms_batch_16": latency_ms(model, tokenizer, prompts, batch=16),
            "perplexity": perplexity(model, tokenizer, [r["text"] for r in rows]),
            "sentiment_accuracy": sum(g == (r["sentiment"] == "positive") for g, r in zip(guesses, rows)) / len(rows),
            "same_greedy_answer": sum(same) / len(same),
        }
    return results


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="quantize.json")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    seed_everything(0)
    tokenizer, model = load_causal_lm(args.model or guide_model())
    quantised = int8_dynamic(load_causal_lm(args.model or guide_model(), log=lambda msg: None)[1])
    results = compare({"float32": model.eval(), "int8 dynamic": quantised}, tokenizer)

    threads = torch.get_num_threads()
    print(f"one greedy generation of 32 tokens, median of 5, on this CPU ({threads} thread{'s' * (threads != 1)})")
    print(
        "| model | size (MB) | batch 1 (ms) | batch 16 (ms) | perplexity | sentiment accuracy | same answer as float32 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['size_mb']:.2f} | {r['latency_ms_batch_1']:.0f} ms | {r['latency_ms_batch_16']:.0f} ms "
            f"| {r['perplexity']:.4f} | {r['sentiment_accuracy']:.1%} | {r['same_greedy_answer']:.0%} |"
        )
    print("\nwhy no speed-up: the matrices are tiny. One MLP block on 16 tokens, by width:")
    print("| width | float32 | int8 | speed-up |\n|---:|---:|---:|---:|")
    for width in (128, 768, 2048):
        fp32, int8 = mlp_ms(width)
        results[f"mlp_{width}"] = {"float32_ms": fp32, "int8_ms": int8}
        print(f"| {width} | {fp32:.3f} ms | {int8:.3f} ms | {fp32 / int8:.1f}× |")
    if args.out:
        write_metrics(args.out, "quantize", results)


if __name__ == "__main__":
    main()
