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
# # Lab 3 · Watching a model learn
#
# This notebook loads the guide's model the way every later step does (Step 3's
# `guide_model()` builds it first if it is missing, about a minute), then plots how it learned
# and what it learned. The test suite ran it (tests/test_labs.py) and this page shows that run:
# the figures are real.

# %%
import json
import math
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no progress widgets here
import matplotlib.pyplot as plt
import torch
import transformers

from guide import set_threads
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model, learning_rate, plot_history

set_threads()  # the examples' thread count, so the lab computes what the pages show

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()  # progress bars are noise in a rendered notebook
folder = guide_model()  # the guide's model: built here first if it is missing or stale
tokenizer, model = load_causal_lm(folder)
log = json.loads((folder / "training_log.json").read_text())
print(
    f"{log['parameters']:,} parameters, vocabulary {log['vocab_size']:,}, {log['steps']} steps "
    f"in {log['seconds']:.1f} s on the {log['device']}"
)

# %% [markdown]
# ## Loss and learning rate
#
# Validation loss is measured on held-out stories every 25 steps. The learning rate warms up
# for 20 steps, then decays along a cosine to zero.

# %%
plot_history(log["history"], log["untrained_val_loss"])
plt.show()

steps = range(log["steps"])
plt.figure(figsize=(6.5, 2.5))
plt.plot(steps, [learning_rate(s, log["steps"], 3e-3, 20) for s in steps])
plt.xlabel("optimizer step")
plt.ylabel("learning rate")
plt.title("Warm-up, then cosine decay")
plt.tight_layout()
plt.show()
print(f"perplexity {math.exp(log['untrained_val_loss']):,.0f} -> {math.exp(log['final_val_loss']):.2f}")

# %% [markdown]
# ## What the model expects next
#
# The probability of each candidate next token after two prompts: the job after "is a", and the
# town after "is a baker in". The model has learned which words can fill each slot, and that the
# slots differ.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for ax, prompt in zip(axes, ["Mara Reed is a", "Mara Reed is a baker in"]):
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        probs = model(input_ids=ids).logits[0, -1].softmax(-1)
    top = probs.topk(8)
    ax.barh([tokenizer.decode([i]) for i in top.indices.tolist()][::-1], top.values.tolist()[::-1])
    ax.set_title(repr(prompt) + " ...")
    ax.set_xlabel("probability")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Samples before and after

# %%
for title in ("before", "after"):
    print(f"{title} training:")
    for text in log[f"samples_{title}"]:
        print("  ", text)

# %% [markdown]
# ## Decoding: variety against quality
#
# The page's decoding run, plotted: each setting's variety (distinct-2, higher is more varied)
# against its quality (the share of continuations that are well-formed stories by Step 5's rule).
# Greedy and beam search sit at one corner: always a story, nearly always the same one. Raising
# the temperature moves along the curve; truncation (top-p, min-p) keeps the tail out.

# %%
import tempfile
from pathlib import Path

from step3_pretraining import decoding

out = Path(tempfile.mkdtemp())
decoding.main(["--out", str(out)])
table = json.loads((out / "decoding.json").read_text())["table"]
fig, ax = plt.subplots(figsize=(7, 4.5))
for name, r in table.items():
    family = "tab:blue" if name.startswith("temperature") and "," not in name else "tab:orange"
    family = "tab:gray" if name in ("greedy", "beam search (4 beams)") else family
    ax.scatter(r["distinct-2"], r["stories"], color=family, s=40)
    ax.annotate(name, (r["distinct-2"], r["stories"]), textcoords="offset points", xytext=(5, 3), fontsize=8)
temps = [table[f"temperature {t}"] for t in ("0.5", "1.0", "1.5")]
ax.plot([r["distinct-2"] for r in temps], [r["stories"] for r in temps], color="tab:blue", alpha=0.4)
ax.set_xlabel("distinct-2 (variety)")
ax.set_ylabel("well-formed stories (quality)")
ax.set_title("Decoding settings on the guide's model")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The KV cache: time per token
#
# The page's KV-cache run, plotted: the time of one generation step against the sequence's
# length, with the cache (each step runs only the newest token) and without it (each step runs
# the whole sequence again).

# %%
from step3_pretraining import kv_cache

kv_cache.main(["--out", str(out)])
rows = json.loads((out / "kv_cache.json").read_text())["rows"]
plt.figure(figsize=(6.5, 3.5))
lengths = [r["length"] for r in rows]
plt.plot(lengths, [r["uncached_ms"] for r in rows], "o-", label="without the cache")
plt.plot(lengths, [r["cached_ms"] for r in rows], "o-", label="with the cache")
plt.xscale("log", base=2)
plt.xticks(lengths, [str(n) for n in lengths])
plt.xlabel("sequence length (tokens)")
plt.ylabel("ms per generated token")
plt.title("One decoding step, 4 layers x 256 wide, CPU")
plt.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Scaling: loss against size and data
#
# The full ladder of the page (5 sizes x 3 token budgets, run once with
# `python snippets/step3_pretraining/scaling.py --page`; this lab reads that record rather than
# training fifteen models again), with the fitted law L(N, D) = E + A/N^alpha + B/D^beta drawn
# through the points.

# %%
import numpy as np

from guide.runtime import GENERATED
from step3_pretraining import scaling

record = json.loads((GENERATED / "step3_scaling.json").read_text())
f = record["fit"]
fig, ax = plt.subplots(figsize=(6.5, 4))
for steps in record["steps"]:
    row = [p for p in record["points"] if p["steps"] == steps]
    n = np.array([p["n"] for p in row], dtype=float)
    line = ax.plot(n, [p["loss"] for p in row], "o", label=f"{steps} steps ({row[0]['d']:,} tokens)")[0]
    grid = np.geomspace(n.min(), n.max(), 50)
    ax.plot(grid, scaling.law((grid, row[0]["d"]), *f.values()), color=line.get_color(), alpha=0.6)
ax.set(xscale="log", yscale="log", xlabel="non-embedding parameters N", ylabel="validation loss (nats)")
ax.set_title(f"Points and the fitted law (R² = {record['r2']:.3f})")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Mixture of experts: the load on each expert
#
# The page's recorded MoE run (`python snippets/step3_pretraining/moe_training.py --page`): the
# share of routing choices each of the 8 experts got on validation text, per layer, with and
# without the balancing loss. An even load is 12.5% each (the dashed line).

# %%
record = json.loads((GENERATED / "step3_moe_training.json").read_text())
runs = {name: r["load"] for name, r in record["models"].items() if r["load"]}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
for layer, ax in enumerate(axes):
    width = 0.4
    for i, (name, load) in enumerate(runs.items()):
        ax.bar(np.arange(8) + (i - 0.5) * width, load[layer], width, label=name)
    ax.axhline(1 / 8, color="gray", linestyle="--", linewidth=1)
    ax.set(title=f"layer {layer}", xlabel="expert", xticks=range(8))
axes[0].set_ylabel("share of routing choices")
axes[0].yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
axes[1].legend()
fig.tight_layout()
plt.show()
