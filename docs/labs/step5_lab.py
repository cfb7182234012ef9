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
# # Lab 5 · Alignment, plotted
#
# This notebook runs the Step 5 examples on the guide's model and draws what the page
# describes: the reward model's accuracy curve, reward and KL over the RL steps with and
# without the leash, and DPO's implicit-reward margins, with plain DPO beside DPO plus the SFT
# term; and pass@k on held-out sums before and after RL with a checker's reward. The test suite ran it (tests/test_labs.py) and this page shows that run; the last cell
# checks the page's targets.

# %%
import json
import logging
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")  # library deprecation notices are not part of the lesson
import datasets
import matplotlib.pyplot as plt
import transformers
from IPython.display import Image, display

from step5_alignment import dpo, reward_model, rlhf, rlvr

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
datasets.disable_progress_bars()  # TRL tokenises its datasets with a progress bar each
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # TRL imports it; its CPU-kernel notice is noise here
out = Path(tempfile.mkdtemp())


def metrics(name, folder):
    return json.loads((out / folder / f"{name}.json").read_text())


# %% [markdown]
# ## The reward model's learning curve
#
# Accuracy on 400 held-out pairs, about people no training pair mentions, every 20 steps,
# overall and for each kind of pair.

# %%
reward_model.main(["--out", str(out / "rm")])
rm = metrics("reward_model", "rm")
display(Image(filename=str(out / "rm" / "reward_model.png")))

# %% [markdown]
# ## GRPO with and without the KL leash
#
# The same 60 steps twice: with $\beta = 0.3$ and with $\beta = 0$. Left, the reward model's
# score and the rule's score of samples on held-out prompts; right, the KL divergence from the
# starting model (log scale).

# %%
runs = {}
for args, folder in (([], "leash"), (["--beta", "0"], "free")):  # the default beta is 0.3
    rlhf.main([*args, "--out", str(out / folder)])
    runs[folder] = metrics("rlhf", folder)["history"]

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
for folder, label, colour in (("leash", "β = 0.3", "C0"), ("free", "β = 0 (no leash)", "C3")):
    h = runs[folder]
    steps = [x["step"] for x in h]
    left.plot(steps, [x["reward"] for x in h], marker="o", c=colour, label=f"reward model, {label}")
    left.plot(steps, [x["rule"] for x in h], marker="s", ls="--", c=colour, label=f"rule, {label}")
    right.plot(steps[1:], [x["kl"] for x in h][1:], marker="o", c=colour, label=label)
left.set(xlabel="GRPO step", ylabel="mean score of held-out samples")
left.legend(fontsize=7)
right.set(xlabel="GRPO step", ylabel="KL(policy ‖ reference), nats", yscale="log")
right.legend(fontsize=8)
for ax in (left, right):
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## DPO, and DPO without the SFT term
#
# First the page's run (DPO plus the SFT term); its plot shows the implicit rewards TRL logs
# during training and the margins on held-out pairs. Then the same run with `--sft-weight 0`:
# plain DPO.

# %%
dpo.main(["--out", str(out / "dpo")])
display(Image(filename=str(out / "dpo" / "dpo.png")))

# %% [markdown]
# Compare the left panels. With the SFT term the chosen answers' implicit reward stays near
# zero while the rejected ones' falls. Plain DPO widens the margin by pushing *both* down: the
# chosen answers become less likely than under the reference, and the samples stop being
# stories, although the held-out ranking accuracy barely moves.

# %%
dpo.main(["--sft-weight", "0", "--out", str(out / "plain")])
display(Image(filename=str(out / "plain" / "dpo.png")))

# %% [markdown]
# ## RL with verifiable rewards: pass@k
#
# The sum of three digits, 200 held-out problems. For each model, the chance that at least one
# of k sampled answers is right (k = 1, 4, 16), with each warm start dashed and GRPO solid. RL
# lifts pass@1 far more than pass@16: it sharpens what the warm start could already sample.

# %%
rlvr.main(["--out", str(out / "rlvr")])
rv = metrics("rlvr", "rlvr")["results"]
ks = [1, 4, 16]
fig, ax = plt.subplots(figsize=(7, 3.6))
for (name, r), colour in zip(rv.items(), ("C0", "C0", "C2", "C1", "C1")):
    style = "--" if "warm start" in name else "-"
    marker = "s" if name.endswith("beta=0") else "o"
    ax.plot(ks, [100 * r[f"pass@{k}"] for k in ks], ls=style, marker=marker, c=colour, label=name.replace(" | ", ": "))
ax.set(xscale="log", xticks=ks, xticklabels=ks, xlabel="k (samples per problem)", ylabel="pass@k on held-out sums (%)")
ax.grid(alpha=0.3)
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The targets the page states

# %%
d, plain = metrics("dpo", "dpo"), metrics("dpo", "plain")
leash, free = runs["leash"], runs["free"]
assert rm["accuracy"] >= 0.90, "reward model below 90% on held-out pairs"
assert leash[-1]["reward"] > leash[0]["reward"] + 1 and max(x["kl"] for x in leash) < 5, "leashed GRPO"
assert min(x["rule"] for x in leash) >= leash[0]["rule"] - 0.5, "leashed GRPO: the rule's score collapsed"
assert free[-1]["rule"] == -2 and free[-1]["reward"] > free[0]["reward"], "no reward hacking without the leash"
assert d["accuracy"] >= 0.80, "DPO implicit reward below 80% on held-out pairs"
assert d["wins"]["SFT (reference)"] >= 0.65, "reward model prefers DPO on fewer than 65% of prompts"
assert plain["accuracy"] >= 0.80 and plain["table"]["DPO"]["well-formed"] < 0.2, "plain DPO did not collapse"
late = lambda run: sum(h["rewards/chosen"] for h in run["train_log"][-5:]) / 5  # noqa: E731
once, tuned = rv["answer at once | warm start (SFT)"], rv["answer at once | + GRPO, beta=0.04"]
assert tuned["exact match"] >= once["exact match"] + 0.15, "RL with the checker did not raise held-out exact match"
assert late(plain) < -1 < late(d), "plain DPO should lower the chosen answers' likelihood; with the SFT term not"
print(
    f"reward model {rm['accuracy']:.1%}; GRPO reward {leash[0]['reward']:+.2f} -> {leash[-1]['reward']:+.2f} "
    f"(KL at most {max(x['kl'] for x in leash):.1f} nats); DPO implicit {d['accuracy']:.1%}, "
    f"preferred to SFT on {d['wins']['SFT (reference)']:.1%}; plain DPO well-formed "
    f"{plain['table']['DPO']['well-formed']:.0%}"
)
