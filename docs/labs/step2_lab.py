# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 2 · Attention, measured
#
# This notebook uses the from-scratch code of [Step 2](../../step-2-architecture/) to draw
# attention patterns and to measure what attention costs as sequences grow. The test suite ran
# it (tests/test_labs.py) and this page shows that run: the pictures are from it.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no progress widgets here
import matplotlib.pyplot as plt
import torch

from guide import seed_everything, set_threads
from step2_architecture.attention import MultiHeadAttention, causal_mask, sinusoidal_positions
from step2_architecture.attention_cost import measure, plot

seed_everything(0)
set_threads()

# %% [markdown]
# ## What position signals make attention do
#
# Feed a multi-head attention layer nothing but the sinusoidal position vectors and set its
# query and key projections to the identity: the scores are then dot products between
# positions, which are largest for nearby positions. Left, full (encoder) attention; right, the
# same with the causal mask of a decoder, which zeroes everything above the diagonal.

# %%
n, d = 24, 32
attn = MultiHeadAttention(d, n_heads=1)
with torch.no_grad():
    for proj in (attn.q_proj, attn.k_proj):
        proj.weight.copy_(torch.eye(d))
        proj.bias.zero_()
x = sinusoidal_positions(n, d).unsqueeze(0)

fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
for ax, (title, mask) in zip(axes, [("encoder: full attention", None), ("decoder: causal attention", causal_mask(n))]):
    attn(x, mask=mask)
    image = ax.imshow(attn.last_weights[0, 0], cmap="viridis")
    ax.set(title=title, xlabel="key position", ylabel="query position")
fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
plt.show()

weights = attn.last_weights[0, 0]
print(f"row sums: min {weights.sum(-1).min():.4f}, max {weights.sum(-1).max():.4f}")
print(f"weight on future tokens under the causal mask: {weights.triu(1).sum():.1f}")

# %% [markdown]
# ## How attention's cost grows with sequence length
#
# The naive version holds the whole $n \times n$ score matrix; PyTorch's fused
# `scaled_dot_product_attention` works in tiles. Both axes are logarithmic: a slope of 2 on the
# memory panel means quadratic growth.

# %%
rows = measure((128, 256, 512, 1024, 2048))
plot(rows)
plt.show()
for n_tokens in (1024, 2048):
    naive = next(r["peak_bytes"] for r in rows if r["impl"] == "naive" and r["n"] == n_tokens)
    fused = next(r["peak_bytes"] for r in rows if r["impl"] == "sdpa" and r["n"] == n_tokens)
    print(f"n={n_tokens}: naive {naive / 2**20:.1f} MiB, SDPA {fused / 2**20:.1f} MiB")
