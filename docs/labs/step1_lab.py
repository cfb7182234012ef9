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
# # Lab 1 · A first taste, plotted
#
# This notebook runs the code of [Step 1](../../step-1-basics/) and plots what the model
# believes comes next. The test suite ran it (tests/test_labs.py) and this page shows that run,
# so every output below is real.
# To run it yourself, clone the repository, `pip install -r requirements.txt`, and open this
# notebook (download button at the top of the page) from inside the clone.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no progress widgets here
import time

import matplotlib.pyplot as plt
import torch
import transformers

from guide import seed_everything, set_threads
from step1_basics.first_taste import CORPUS, build_tiny_model, taste

seed_everything(0)
set_threads()
transformers.logging.set_verbosity_error()  # keep the notebook's output to what we print
transformers.logging.disable_progress_bar()

# %% [markdown]
# ## Before training: a model that knows nothing
#
# An untrained model spreads its probability almost evenly over the vocabulary. Training for
# a single step barely changes that.

# %%
text = CORPUS.read_text(encoding="utf-8")
tokenizer, untrained, _ = build_tiny_model(text, steps=1)
before = taste(tokenizer, untrained)

# %% [markdown]
# ## After 300 steps (a few seconds on a CPU)

# %%
start = time.perf_counter()
tokenizer, model, loss = build_tiny_model(text, steps=300)
print(f"trained in {time.perf_counter() - start:.1f} s, final loss {loss:.2f}")
after = taste(tokenizer, model)

# %% [markdown]
# ## The next-token distribution, before and after
#
# Each bar is the probability the model gives to one candidate for the token after
# "The cat sat on the".

# %%
ids = tokenizer("The cat sat on the", return_tensors="pt")["input_ids"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
for ax, (title, m) in zip(axes, [("after 1 step", untrained), ("after 300 steps", model)]):
    with torch.no_grad():
        probs = m(input_ids=ids).logits[0, -1].softmax(-1)
    top = probs.topk(8)
    labels = [repr(tokenizer.decode([i])) for i in top.indices.tolist()]
    ax.bar(labels, top.values.tolist(), color="tab:blue")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
axes[0].set_ylabel("probability of the next token")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## How big a vocabulary? Tokens per word, plotted
#
# The vocabulary example of Step 1, called in the notebook: `run()` returns the numbers the
# command prints, one row per vocabulary size.

# %%
from step1_basics.vocabulary import parser, run

rows = run(parser().parse_args([]))["rows"]
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot([r["vocabulary"] for r in rows], [r["tokens_per_word"] for r in rows], "o-")
ax.set_xlabel("vocabulary size (tokens)")
ax.set_ylabel("tokens per held-out word")
ax.set_ylim(0, None)
fig.tight_layout()
plt.show()
for r in rows:
    print(f"{r['vocabulary']:>5} tokens: {r['tokens_per_word']:.2f} per word, {r['whole_pieces']:.0%} kept whole")
