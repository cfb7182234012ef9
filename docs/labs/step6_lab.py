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
# # Lab 6 · Evaluation, plotted
#
# This notebook runs the Step 6 examples on the guide's model and shows their plots: the
# confusion matrices behind the metrics table, forgetting with and without replay, and the
# active-learning curves. The test suite ran it (tests/test_labs.py) and this page shows that
# run; the last cell checks the claims the page makes.

# %%
import json
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")  # library deprecation notices are not part of the lesson
import transformers
from IPython.display import Image, display

from step6_evaluation import active_learning, continual, metrics

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
out = Path(tempfile.mkdtemp())


def result(name):
    return json.loads((out / f"{name}.json").read_text())


# %% [markdown]
# ## Confusion matrices
#
# Rows are the truth, columns the guess. On the skewed test set the lazy "always good day"
# classifier fills one column: high accuracy, no bad day ever found.

# %%
metrics.main(["--out", str(out)])
display(Image(filename=str(out / "metrics.png")))

# %% [markdown]
# ## Forgetting, with and without replay
#
# Perplexity (log scale) on held-out stories, on the registry entries trained on, on the
# entries of people no run trained on, and on entries in a phrasing no run trained on, every 20
# steps of fine-tuning.

# %%
continual.main(["--out", str(out)])
display(Image(filename=str(out / "continual.png")))

# %% [markdown]
# ## Learning curves: uncertainty against random sampling
#
# Held-out accuracy as labels are bought ten at a time, averaged over five runs.

# %%
active_learning.main(["--out", str(out)])
display(Image(filename=str(out / "active_learning.png")))

# %% [markdown]
# ## The claims the page makes

# %%
m, c, a = result("metrics")["reports"], result("continual"), result("active_learning")
lazy = m["skewed test set, always 'good day'"]
assert lazy["accuracy"] > 0.9 and lazy["recall_bad_days"] == 0, "the lazy classifier should look good and be useless"
growth = {name: run[-1]["old: held-out stories"] / run[0]["old: held-out stories"] for name, run in c["curves"].items()}
alone = growth.pop("new data only")
assert alone > 5 and max(growth.values()) < 1.25, "forgetting without replay, none with it"
assert a["needed"]["uncertainty"] <= a["needed"]["random"] / 2, "uncertainty sampling should halve the labels"
print(
    f"lazy classifier: accuracy {lazy['accuracy']:.1%}, bad days found {lazy['recall_bad_days']:.0%}; "
    f"old-story perplexity x{alone:.0f} without replay, x{max(growth.values()):.2f} with; labels to "
    f"{a['target']:.0%}: {a['needed']['uncertainty']} (uncertainty) vs {a['needed']['random']} (random)"
)
