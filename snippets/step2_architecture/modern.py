"""The block of a 2026 decoder (Llama, Qwen, Mistral): RMSNorm, RoPE, SwiGLU, grouped-query attention.

Run it: ``python snippets/step2_architecture/modern.py`` (``--out DIR`` saves modern.json). It
copies the weights of transformers' Llama pieces into the ones below and prints the largest
gaps, piece by piece and for the whole block, then compares the block's size with GPT-2's.
"""

# --8<-- [start:imports]
import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import (
    LlamaDecoderLayer,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
    apply_rotary_pos_emb,
)

from step2_architecture.attention import TransformerBlock, causal_mask, scaled_dot_product_attention

# --8<-- [end:imports]
# isort: split
from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares


# --8<-- [start:rmsnorm]
class RMSNorm(nn.Module):
    """LayerNorm without the mean and the bias: divide each vector by its root mean square,
    then scale each dimension (Zhang and Sennrich, 2019). One reduction instead of two."""

    def __init__(self, d_model, eps=1e-6):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d_model)), eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        # --8<-- [end:rmsnorm]


# --8<-- [start:rope]
def rope(x, positions, base=10000.0):
    """Rotary position embedding (Su et al., 2021): rotate each pair of dimensions (i, i + d/2)
    of every query and key by the angle position x base^(-2i/d). A query at position m and a
    key at position n then meet at an angle that depends only on m - n: attention sees
    relative positions, and nothing is added to the token's vector."""
    d = x.size(-1)
    angle = positions[:, None].float() * base ** (-torch.arange(0, d, 2, dtype=torch.float) / d)
    cos, sin = angle.cos(), angle.sin()  # (n, d/2)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    # --8<-- [end:rope]


# --8<-- [start:swiglu]
class SwiGLU(nn.Module):
    """The feed-forward network with a gate (Shazeer, 2020): one projection, passed through
    SiLU, decides how much of another gets through. Three matrices instead of two, so the
    hidden width is usually cut to about 8/3 of the model's to keep the parameter count."""

    def __init__(self, d_model, d_ff):
        super().__init__()
        self.gate = nn.Linear(d_model, d_ff, bias=False)
        self.up = nn.Linear(d_model, d_ff, bias=False)
        self.down = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))
        # --8<-- [end:swiglu]


# --8<-- [start:gqa]
class GroupedQueryAttention(nn.Module):
    """Multi-head attention in which groups of query heads share one key and value head
    (Ainslie et al., 2023): the KV cache shrinks by the group size. With as many KV heads as
    query heads it is plain multi-head attention; with one, multi-query attention."""

    def __init__(self, d_model, n_heads, n_kv_heads):
        super().__init__()
        if n_heads % n_kv_heads:
            raise ValueError(f"n_heads={n_heads} must be a multiple of n_kv_heads={n_kv_heads}")
        self.n_heads, self.n_kv_heads, self.d_head = n_heads, n_kv_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, n_heads * self.d_head, bias=False)
        self.k_proj = nn.Linear(d_model, n_kv_heads * self.d_head, bias=False)
        self.v_proj = nn.Linear(d_model, n_kv_heads * self.d_head, bias=False)
        self.o_proj = nn.Linear(n_heads * self.d_head, d_model, bias=False)

    def forward(self, x, positions, mask=None):
        b, n, _ = x.shape
        q = self.q_proj(x).view(b, n, self.n_heads, self.d_head).transpose(1, 2)
        k = self.k_proj(x).view(b, n, self.n_kv_heads, self.d_head).transpose(1, 2)
        v = self.v_proj(x).view(b, n, self.n_kv_heads, self.d_head).transpose(1, 2)
        q, k = rope(q, positions), rope(k, positions)  # positions enter here, not at the input
        group = self.n_heads // self.n_kv_heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.o_proj(out.transpose(1, 2).reshape(b, n, -1))
        # --8<-- [end:gqa]


# --8<-- [start:block]
class ModernBlock(nn.Module):
    """Step 2's pre-norm block with today's parts: RMSNorm, attention with RoPE and shared KV
    heads, and a SwiGLU feed-forward network; no biases anywhere."""

    def __init__(self, d_model, n_heads, n_kv_heads, d_ff):
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(d_model), RMSNorm(d_model)
        self.attn = GroupedQueryAttention(d_model, n_heads, n_kv_heads)
        self.ff = SwiGLU(d_model, d_ff)

    def forward(self, x, positions, mask=None):
        x = x + self.attn(self.norm1(x), positions, mask)
        return x + self.ff(self.norm2(x))
        # --8<-- [end:block]


# --8<-- [start:parity]
def llama_config(d_model=64, n_heads=4, n_kv_heads=2, d_ff=176):
    config = LlamaConfig(
        hidden_size=d_model,
        num_attention_heads=n_heads,
        num_key_value_heads=n_kv_heads,
        intermediate_size=d_ff,
        max_position_embeddings=128,
        rms_norm_eps=1e-6,
    )
    config._attn_implementation = "eager"  # the plain softmax(q k^T) v, with an additive mask
    return config


def load_llama(ours: ModernBlock, theirs: LlamaDecoderLayer):
    """Ours with the weights of transformers' Llama layer (the same layout, other names)."""
    a, m = theirs.self_attn, theirs.mlp
    pairs = [
        (ours.norm1.weight, theirs.input_layernorm.weight),
        (ours.norm2.weight, theirs.post_attention_layernorm.weight),
        *[(getattr(ours.attn, p).weight, getattr(a, p).weight) for p in ("q_proj", "k_proj", "v_proj", "o_proj")],
        (ours.ff.gate.weight, m.gate_proj.weight),
        (ours.ff.up.weight, m.up_proj.weight),
        (ours.ff.down.weight, m.down_proj.weight),
    ]
    with torch.no_grad():
        for mine, theirs_ in pairs:
            mine.copy_(theirs_)


def max_gaps(batch=2, n=12, d_model=64, n_heads=4, n_kv_heads=2, d_ff=176):
    """Largest |ours - transformers| for each piece and the whole block, random weights."""
    config = llama_config(d_model, n_heads, n_kv_heads, d_ff)
    x = torch.randn(batch, n, d_model)
    positions = torch.arange(n)
    mask = causal_mask(n)
    additive = torch.zeros(n, n).masked_fill(~mask, float("-inf"))[None, None]  # Llama's mask form
    cos, sin = LlamaRotaryEmbedding(config)(x, positions[None])
    theirs = LlamaDecoderLayer(config, layer_idx=0).eval()
    for norm_ in (theirs.input_layernorm, theirs.post_attention_layernorm):  # not all 1: a test can fail
        nn.init.normal_(norm_.weight, mean=1.0, std=0.2)
    ours = ModernBlock(d_model, n_heads, n_kv_heads, d_ff)
    load_llama(ours, theirs)
    q = torch.randn(batch, n_heads, n, d_model // n_heads)
    norms = RMSNorm(d_model), nn.RMSNorm(d_model, eps=1e-6), LlamaRMSNorm(d_model)
    nn.init.normal_(norms[0].weight, mean=1.0, std=0.2)
    for other in norms[1:]:
        other.weight.data.copy_(norms[0].weight)
    with torch.no_grad():
        gaps = {
            "RMSNorm (torch.nn.RMSNorm)": (norms[0](x) - norms[1](x)).abs().max(),
            "RMSNorm (LlamaRMSNorm)": (norms[0](x) - norms[2](x)).abs().max(),
            "RoPE (apply_rotary_pos_emb)": (rope(q, positions) - apply_rotary_pos_emb(q, q, cos, sin)[0]).abs().max(),
            "SwiGLU (LlamaMLP)": (ours.ff(x) - theirs.mlp(x)).abs().max(),
            "attention (LlamaAttention)": (ours.attn(x, positions, mask) - theirs.self_attn(x, (cos, sin), additive)[0])
            .abs()
            .max(),
            "block (LlamaDecoderLayer)": (
                ours(x, positions, mask) - theirs(x, additive, position_embeddings=(cos, sin))
            )
            .abs()
            .max(),
        }
    return {name: gap.item() for name, gap in gaps.items()}
    # --8<-- [end:parity]


def kv_heads(n):
    return f"{n} KV head{'s' if n > 1 else ''}"


def parameters(module):
    return sum(p.numel() for p in module.parameters())


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="modern.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    seed_everything(args.seed)
    gaps = {
        "grouped (4 query heads, 2 KV heads)": max_gaps(n_kv_heads=2),
        "multi-head (4 and 4)": max_gaps(n_kv_heads=4),
    }
    print("largest |ours - transformers' Llama| (float32), weights copied:")
    for kind, table in gaps.items():
        print(f"  {kind}:")
        for name, gap in table.items():
            print(f"    {name:<30} {gap:.1e}")
    d = 128  # the guide's width
    gpt2 = TransformerBlock(d, 4)
    modern = {kv: ModernBlock(d, 4, kv, d_ff=344) for kv in (4, 2, 1)}
    sizes = {"GPT-2 block": parameters(gpt2)} | {
        f"modern block, {kv_heads(kv)}": parameters(b) for kv, b in modern.items()
    }
    kv_per_token = {kv_heads(kv): 2 * kv * (d // 4) * 4 for kv in (4, 2, 1)}  # float32 bytes, one layer
    print(f"at the guide's width ({d}, 4 query heads; SwiGLU 344 wide, about 8/3 of {d}):")
    for name, n in sizes.items():
        print(f"  {name:<28} {n:,} parameters")
    print(
        "  KV cache per token and layer (float32): " + ", ".join(f"{k}: {v:,} bytes" for k, v in kv_per_token.items())
    )
    write_metrics(args.out, "modern", {"gaps": gaps, "parameters": sizes, "kv_bytes_per_token_layer": kv_per_token})


if __name__ == "__main__":
    main()
