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
# # Lab 7 · The service, measured
#
# This notebook starts the Step 7 service on this machine (on 127.0.0.1), watches an answer
# stream in, and load-tests the server with and without micro-batching. The test suite ran it
# (tests/test_labs.py) and this page shows that run, so the plots show the test machine; run it
# yourself to see yours. The last cell checks the claims the page makes.

# %%
import asyncio
import json
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

warnings.filterwarnings("ignore")  # library deprecation notices are not part of the lesson
import httpx
import matplotlib.pyplot as plt

from guide.data import openings
from step7_deployment.benchmark import load
from step7_deployment.loopback import running_server

prompts = openings("test", 64)

# %% [markdown]
# ## An answer, as it streams
#
# Each dot is one server-sent event arriving: the time since the request was sent, and how much
# of the answer the client has by then. A client that waited for the whole answer would show
# nothing until the last dot.

# %%
arrivals, text = [], ""
with running_server("--rate-limit", 100000, env={"GUIDE_API_KEYS": ""}) as base:
    with httpx.Client(base_url=base, timeout=30) as client:
        start = time.perf_counter()
        body = {"prompt": "Omar Reed is a baker in Glenrock.", "max_new_tokens": 48}
        with client.stream("POST", "/v1/generate/stream", json=body) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and "text" in line:
                    text += json.loads(line[6:])["text"]
                    arrivals.append((1000 * (time.perf_counter() - start), len(text)))
print(text)
fig, ax = plt.subplots(figsize=(7, 3))
ax.step(*zip(*arrivals), where="post", marker="o", markersize=3)
ax.set(xlabel="ms since the request", ylabel="characters received", title="server-sent events arriving", xlim=(0, None))
plt.show()

# %% [markdown]
# ## Latency with and without micro-batching
#
# Sixteen clients send three requests each, back to back, to a server that generates one
# request at a time and then to one that batches up to 16. Each curve is the share of requests
# answered within a given time.


# %%
def measure(base):
    """The load test in a thread of its own: Jupyter already runs an event loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, load(base, prompts, clients=16, per_client=3, new_tokens=32)).result()


runs = {}
for size in (1, 16):
    # --timeout 300: a load test measures latency; on a busy machine queued requests wait long
    with running_server(
        "--max-batch", size, "--rate-limit", 100000, "--timeout", 300, env={"GUIDE_API_KEYS": ""}
    ) as base:
        runs[size] = measure(base)
fig, ax = plt.subplots(figsize=(7, 3))
for size, r in runs.items():
    xs = sorted(r["latencies_ms"])
    label = "one at a time" if size == 1 else f"batches of up to {size}"
    ax.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))], label=f"{label}: {r['tokens_per_s']:.0f} tokens/s")
ax.set(xlabel="latency (ms)", ylabel="share of requests answered", title="16 clients, 48 requests")
ax.legend()
plt.show()

# %% [markdown]
# ## What the page claims, checked on this run

# %%
assert len(arrivals) > 1 and arrivals[0][0] < arrivals[-1][0], "the answer did not stream"
assert runs[16]["tokens_per_s"] > runs[1]["tokens_per_s"], "batching did not raise throughput"
assert runs[16]["p50_ms"] < runs[1]["p50_ms"], "batching did not cut the median latency"
print(
    f"throughput {runs[1]['tokens_per_s']:.0f} tokens/s -> {runs[16]['tokens_per_s']:.0f} tokens/s; "
    f"median latency {runs[1]['p50_ms']:.0f} ms -> {runs[16]['p50_ms']:.0f} ms"
)
