"""Attention and the transformer block, written from scratch in plain PyTorch.

Run it: ``python snippets/step2_architecture/attention.py`` (add ``--out DIR`` to save the
metrics). It checks every piece against PyTorch's own implementation and prints the gaps.
"""

# --8<-- [start:imports]
import math

import torch
import torch.nn.functional as F
from torch import nn

# --8<-- [end:imports]
# isort: split
# The guide's helpers stay outside the imports the page shows, so its code blocks stay plain PyTorch.
from guide import cli, pick_device, seed_everything, write_metrics  # cli: the command line every example shares


# --8<-- [start:sdpa]
def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d)) v, returning the output and the attention weights.

    q: (..., n_queries, d), k and v: (..., n_keys, d). ``mask`` is boolean and broadcasts to
    (..., n_queries, n_keys); True means "this query may look at this key", the same
    convention as torch.nn.functional.scaled_dot_product_attention.
    """
    d = q.size(-1)
    # Dividing by sqrt(d) keeps the dot products at unit scale, so the softmax does not
    # saturate into a one-hot vector as d grows.
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights
    # --8<-- [end:sdpa]


# --8<-- [start:causal]
def causal_mask(n, device=None):
    """A lower-triangular (n, n) mask: token i may attend to tokens 0..i, never the future."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()
    # --8<-- [end:causal]


# --8<-- [start:mha]
class MultiHeadAttention(nn.Module):
    """Several attention heads side by side, each on its own d_model / n_heads slice."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}; "
                "pick n_heads that divides d_model (each head gets d_model // n_heads dims)"
            )
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def split_heads(self, x):  # (batch, n, d_model) -> (batch, heads, n, d_head)
        return x.view(x.size(0), x.size(1), self.n_heads, self.d_head).transpose(1, 2)

    def forward(self, x, context=None, mask=None):
        """Self-attention when ``context`` is None; cross-attention (decoder looking at the
        encoder's output) when it is given."""
        context = x if context is None else context
        q = self.split_heads(self.q_proj(x))
        k = self.split_heads(self.k_proj(context))
        v = self.split_heads(self.v_proj(context))
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        out = out.transpose(1, 2).reshape(x.shape)  # heads back side by side
        self.last_weights = weights.detach()  # kept for plotting, not needed to train
        return self.out_proj(out)
        # --8<-- [end:mha]


# --8<-- [start:positions]
def sinusoidal_positions(n, d_model):
    """The fixed position signal of "Attention Is All You Need": sines and cosines whose
    wavelengths grow geometrically from 2*pi to 10000*2*pi across the dimensions."""
    position = torch.arange(n).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(n, d_model)
    pe[:, 0::2] = torch.sin(position * frequency)
    pe[:, 1::2] = torch.cos(position * frequency)
    return pe
    # --8<-- [end:positions]


# --8<-- [start:block]
class TransformerBlock(nn.Module):
    """Attention then a feed-forward network, each wrapped in a residual connection with
    layer norm in front ("pre-LN", as in GPT-2: it trains more stably than post-LN)."""

    def __init__(self, d_model, n_heads, d_ff=None):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(  # widen, non-linearity, narrow back: applied per token
            nn.Linear(d_model, d_ff or 4 * d_model),
            nn.GELU(),
            nn.Linear(d_ff or 4 * d_model, d_model),
        )

    def forward(self, x, mask=None):
        x = x + self.attn(self.ln1(x), mask=mask)  # tokens exchange information
        x = x + self.ff(self.ln2(x))  # each token is transformed on its own
        return x
        # --8<-- [end:block]


# --8<-- [start:parity]
def copy_from_torch(ours: MultiHeadAttention, theirs: nn.MultiheadAttention):
    """Load nn.MultiheadAttention's weights into ours (it packs q, k, v in one matrix)."""
    w_q, w_k, w_v = theirs.in_proj_weight.chunk(3)
    b_q, b_k, b_v = theirs.in_proj_bias.chunk(3)
    with torch.no_grad():
        for proj, w, b in [(ours.q_proj, w_q, b_q), (ours.k_proj, w_k, b_k), (ours.v_proj, w_v, b_v)]:
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        ours.out_proj.weight.copy_(theirs.out_proj.weight)
        ours.out_proj.bias.copy_(theirs.out_proj.bias)


def max_gaps(batch=2, n=6, d_model=16, n_heads=4, device="cpu"):
    """Largest absolute difference between our code and PyTorch's, with and without a mask."""
    q, k, v = (torch.randn(batch, n_heads, n, d_model // n_heads, device=device) for _ in range(3))
    mask = causal_mask(n, device)
    gaps = {
        "sdpa": (scaled_dot_product_attention(q, k, v)[0] - F.scaled_dot_product_attention(q, k, v)).abs().max(),
        "sdpa_causal": (
            scaled_dot_product_attention(q, k, v, mask)[0] - F.scaled_dot_product_attention(q, k, v, is_causal=True)
        )
        .abs()
        .max(),
    }
    theirs = nn.MultiheadAttention(d_model, n_heads, batch_first=True).to(device)
    ours = MultiHeadAttention(d_model, n_heads).to(device)
    copy_from_torch(ours, theirs)
    x = torch.randn(batch, n, d_model, device=device)
    with torch.no_grad():
        gaps["mha"] = (ours(x) - theirs(x, x, x, need_weights=False)[0]).abs().max()
        # nn.MultiheadAttention's boolean mask means the opposite: True = "may NOT attend".
        gaps["mha_causal"] = (ours(x, mask=mask) - theirs(x, x, x, attn_mask=~mask, need_weights=False)[0]).abs().max()
    return {name: gap.item() for name, gap in gaps.items()}
    # --8<-- [end:parity]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="attention.json")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    seed_everything(args.seed)
    device = pick_device(args.device)
    print(f"device: {device.type}")

    # --8<-- [start:demo]
    gaps = max_gaps(device=device)
    print("largest |ours - PyTorch| (float32):")
    for name, gap in gaps.items():
        print(f"  {name:<12} {gap:.1e}")

    block = TransformerBlock(d_model=16, n_heads=4).to(device)
    x = torch.randn(1, 5, 16, device=device) + sinusoidal_positions(5, 16).to(device)
    y = block(x, mask=causal_mask(5, device))
    n_params = sum(p.numel() for p in block.parameters())
    print(f"transformer block: {tuple(x.shape)} -> {tuple(y.shape)}, {n_params:,} parameters")
    print("causal attention weights, head 0 (row = query token, column = key token):")
    for row in block.attn.last_weights[0, 0]:
        print("  " + " ".join(f"{w:.2f}" for w in row.tolist()))
    # --8<-- [end:demo]

    weights = block.attn.last_weights[0, 0]
    write_metrics(
        args.out,
        "attention",
        {
            "device": device.type,
            "max_gaps": gaps,
            "block_parameters": n_params,
            "rows_sum_to_one": bool(torch.allclose(weights.sum(-1), torch.ones(5, device=device))),
            "future_weight": weights.triu(1).abs().sum().item(),
        },
    )


if __name__ == "__main__":
    main()
