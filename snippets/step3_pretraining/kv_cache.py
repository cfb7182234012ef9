"""The KV cache: generation that keeps each layer's keys and values instead of recomputing them.

Run it: ``python snippets/step3_pretraining/kv_cache.py`` (``--model NAME_OR_PATH``: the GPT-2 to
check the tokens on, default the guide's model; ``--out DIR`` saves kv_cache.json). It checks
that generation with the cache writes the same tokens as generation without it, that the
cache's size follows the formula, and times a step of each against the sequence length, and
the prefill of a prompt against decoding token by token.
"""

# --8<-- [start:imports]
import time

import torch

from step2_architecture.attention import scaled_dot_product_attention
from step2_architecture.gpt import GPT, from_gpt2

# --8<-- [end:imports]
# isort: split
from statistics import median

from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.data import openings
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model


# --8<-- [start:cached]
@torch.no_grad()
def forward_with_cache(gpt, ids, cache=None):
    """Run only the new tokens ``ids`` (batch, n) through Step 2's GPT. ``cache`` holds each
    layer's keys and values for the tokens before them; returns the new tokens' logits and
    the cache grown by them."""
    past = 0 if cache is None else cache[0][0].size(2)
    n = ids.size(1)
    x = gpt.tokens(ids) + gpt.positions(torch.arange(past, past + n, device=ids.device))
    mask = torch.ones(n, past + n, dtype=torch.bool, device=ids.device).tril(past)  # new token i sees 0..past+i
    grown = []
    for i, block in enumerate(gpt.blocks):
        attn, h = block.attn, block.ln1(x)
        q, k, v = (attn.split_heads(proj(h)) for proj in (attn.q_proj, attn.k_proj, attn.v_proj))
        if cache is not None:  # the keys and values of every earlier token, computed once
            k, v = torch.cat([cache[i][0], k], dim=2), torch.cat([cache[i][1], v], dim=2)
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        x = x + attn.out_proj(out.transpose(1, 2).reshape(x.shape))
        x = x + block.ff(block.ln2(x))
        grown.append((k, v))
    return gpt.head(gpt.ln_f(x)), grown


@torch.no_grad()
def greedy(gpt, ids, new_tokens, use_cache=True, on_step=None):
    """Greedy generation, with the cache (prefill the prompt once, then decode one token at a
    time) or without it (run the whole sequence again for every token)."""
    cache = None
    for _ in range(new_tokens):
        start = time.perf_counter()
        if use_cache:
            logits, cache = forward_with_cache(gpt, ids if cache is None else ids[:, -1:], cache)
        else:
            logits = gpt(ids)
        ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=-1)
        if on_step:
            on_step(ids.size(1), time.perf_counter() - start)
    return ids, cache


def cache_bytes(layers, kv_heads, head_size, tokens, bytes_per_number=4):
    """Keys and values (2) for every layer, KV head, dimension and token."""
    return 2 * layers * kv_heads * head_size * tokens * bytes_per_number
    # --8<-- [end:cached]


def timed_gpt(seed=0):
    """A GPT wider and deeper than the guide's (random weights: speed does not depend on them)."""
    seed_everything(seed)
    return GPT(vocab_size=2048, context=512, d_model=256, n_layers=4, n_heads=4).eval()


def step_times(gpt, total, use_cache, prompt=16):
    """Seconds of each generation step, by the sequence's length after it."""
    times = {}
    ids = torch.randint(0, 2048, (1, prompt), generator=torch.Generator().manual_seed(0))
    greedy(gpt, ids, total - prompt, use_cache, on_step=lambda n, s: times.__setitem__(n, s))
    return times


def per_token_ms(times, length, window=8):
    """The median step time (ms) over the steps that end within ``window`` tokens of ``length``."""
    return 1000 * median(s for n, s in times.items() if length - window < n <= length)


PUBLISHED = {  # layers, KV heads, head size: the architectures as their papers give them
    "GPT-2 small (12 heads)": (12, 12, 64),
    "Llama 2 7B (32 heads)": (32, 32, 128),
    "Llama 3 8B (8 KV heads, GQA)": (32, 8, 128),
}


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="kv_cache.json")
    parser.add_argument("--length", type=int, default=256, help="longest sequence timed (default 256, at most 512)")
    args = parser.parse_args(argv)
    if not 64 <= args.length <= 512:
        parser.error("--length must be between 64 and 512 (the timed GPT's context)")

    logging.set_verbosity_error()
    # --8<-- [start:demo]
    tokenizer, hf = load_causal_lm(args.model or guide_model())
    gpt = from_gpt2(hf).eval()  # Step 2's GPT, with the trained weights
    same = 0
    prompts = openings("test", 16)
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        with_cache, cache = greedy(gpt, ids, 24)
        without, _ = greedy(gpt, ids, 24, use_cache=False)
        same += torch.equal(with_cache, without)
    c = hf.config
    tensors = sum(t.numel() * t.element_size() for layer in cache for t in layer)
    formula = cache_bytes(c.n_layer, c.n_head, c.n_embd // c.n_head, with_cache.size(1) - 1)
    print(f"greedy with and without the cache: the same tokens for {same} of {len(prompts)} openings")
    print(f"cache after {with_cache.size(1) - 1} tokens: {tensors:,} bytes in the tensors, {formula:,} by the formula")
    # --8<-- [end:demo]

    timed = timed_gpt()
    lengths = [n for n in (32, 64, 128, 256, 512) if n <= args.length]
    cached, plain = step_times(timed, args.length, True), step_times(timed, args.length, False)
    rows = [{"length": n, "cached_ms": per_token_ms(cached, n), "uncached_ms": per_token_ms(plain, n)} for n in lengths]
    prompt = torch.randint(0, 2048, (1, args.length), generator=torch.Generator().manual_seed(1))
    start = time.perf_counter()
    forward_with_cache(timed, prompt)
    prefill_s = time.perf_counter() - start
    decode_s = sum(s for n, s in cached.items() if n > 16)
    decoded = sum(1 for n in cached if n > 16)
    print(f"time per generated token, a GPT of 4 layers x 256 wide (random weights), 1 sequence, {timed_threads()}:")
    print("| sequence length | with the cache | without | |\n|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['length']} | {r['cached_ms']:.2f} ms | {r['uncached_ms']:.2f} ms | {r['uncached_ms'] / r['cached_ms']:.1f}× |"
        )
    print(
        f"prefill: {args.length} prompt tokens in one pass, {1000 * prefill_s:.1f} ms "
        f"({args.length / prefill_s:,.0f} tokens/s); decode: {decoded} tokens one at a time, "
        f"{1000 * decode_s:.0f} ms ({decoded / decode_s:,.0f} tokens/s)"
    )
    print("KV cache per token in 16-bit numbers, by the formula:")
    published = {}
    for name, (layers, kv_heads, head_size) in PUBLISHED.items():
        published[name] = cache_bytes(layers, kv_heads, head_size, 1, bytes_per_number=2)
        print(f"  {name:<30} {published[name] / 1024:,.0f} KiB; 4,096 tokens: {4096 * published[name] / 2**30:.2f} GiB")
    write_metrics(
        args.out,
        "kv_cache",
        {
            "same_tokens": same,
            "prompts": len(prompts),
            "cache_tensor_bytes": tensors,
            "cache_formula_bytes": formula,
            "rows": rows,
            "prefill_tokens_per_s": args.length / prefill_s,
            "decode_tokens_per_s": decoded / decode_s,
            "published_bytes_per_token": published,
        },
    )


def timed_threads():
    n = torch.get_num_threads()
    return f"{n} thread{'s' if n > 1 else ''}"


if __name__ == "__main__":
    main()
