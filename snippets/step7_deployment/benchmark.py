"""Load-test the service on loopback: 16 clients stream answers at once, first from a server that
generates one request at a time, then from servers that micro-batch. Throughput, p50/p99
latency and time to first token for each.

Run it: ``python snippets/step7_deployment/benchmark.py`` (about two minutes on two cores). ``--page`` also
writes the table, the numbers and the plot that the Step 7 page shows (docs/generated/).
"""

# --8<-- [start:imports]
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

# --8<-- [end:imports]
# isort: split
from matplotlib.figure import Figure

from guide import cli  # the command line every example shares
from guide.data import openings
from step7_deployment.loopback import running_server

GENERATED = Path(__file__).resolve().parents[2] / "docs" / "generated"


# --8<-- [start:load]
async def one_request(client, prompt, new_tokens):
    """Stream one answer; return (latency, time to first token, tokens)."""
    start, first, body = time.perf_counter(), None, ""
    async with client.stream("POST", "/v1/generate/stream", json={"prompt": prompt, "max_new_tokens": new_tokens}) as r:
        r.raise_for_status()
        async for chunk in r.aiter_text():  # the events as they arrive; parsed once, at the end
            if first is None and "data: " in chunk:
                first = time.perf_counter() - start
            body += chunk
    _, found, done = body.rpartition("event: done\ndata: ")
    if not found or not done.strip():  # an error event instead (a 504 past the server's --timeout, say)
        raise RuntimeError(f"the stream did not end with event: done: {body[-200:]!r}")
    return time.perf_counter() - start, first, json.loads(done)["tokens"]


async def load(base, prompts, clients=16, per_client=8, new_tokens=32):
    """``clients`` concurrent users, each sending ``per_client`` requests back to back."""

    async def user(i, client):
        return [
            await one_request(client, prompts[(i * per_client + j) % len(prompts)], new_tokens)
            for j in range(per_client)
        ]

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await asyncio.gather(*(one_request(client, p, new_tokens) for p in prompts[:clients]))  # warm up
        start = time.perf_counter()
        results = [r for rs in await asyncio.gather(*(user(i, client) for i in range(clients))) for r in rs]
        wall = time.perf_counter() - start
    latencies = sorted(r[0] for r in results)
    return {
        "requests": len(results),
        "tokens": sum(r[2] for r in results),
        "seconds": wall,
        "requests_per_s": len(results) / wall,
        "tokens_per_s": sum(r[2] for r in results) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "ttft_p50_ms": 1000 * statistics.median(r[1] for r in results),
        "latencies_ms": [round(1000 * r[0], 1) for r in results],  # each request's, for plots
    }
    # --8<-- [end:load]


def table(runs):
    lines = [
        f"{runs['clients']} concurrent clients on loopback, {runs['per_client']} streamed requests each, "
        f"{runs['new_tokens']} new tokens per request:",
        "",
        "| server | requests/s | tokens/s | p50 latency | p99 latency | time to first token (p50) | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    base = runs["results"][0]["tokens_per_s"]
    for r in runs["results"]:
        name = "one at a time" if r["max_batch"] == 1 else f"micro-batches of up to {r['max_batch']}"
        lines.append(
            f"| {name} | {r['requests_per_s']:.1f} | {r['tokens_per_s']:.0f} | {r['p50_ms']:.0f} ms "
            f"| {r['p99_ms']:.0f} ms | {r['ttft_p50_ms']:.0f} ms | {r['tokens_per_s'] / base:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def plot(runs):
    """Throughput and latency against the largest batch the server may form."""
    rs = runs["results"]
    sizes = [r["max_batch"] for r in rs]
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(sizes, [r["tokens_per_s"] for r in rs], "o-")
    left.set(
        xscale="log",
        xticks=sizes,
        xticklabels=sizes,
        xlabel="largest batch (--max-batch)",
        ylabel="tokens per second",
        title="throughput",
        ylim=(0, None),
    )
    for key, label in [("p50_ms", "p50 latency"), ("p99_ms", "p99 latency"), ("ttft_p50_ms", "first token (p50)")]:
        right.plot(sizes, [r[key] for r in rs], "o-", label=label)
    right.set(
        xscale="log",
        xticks=sizes,
        xticklabels=sizes,
        xlabel="largest batch (--max-batch)",
        ylabel="ms",
        title=f"latency, {runs['clients']} clients",
        ylim=(0, None),
    )
    right.legend()
    return fig


@cli.command(cache=False)  # --page writes to docs/generated/, outside --out
def main(argv=None):
    parser = cli.parser(__doc__, out="benchmark.json, benchmark.txt and benchmark.png")
    parser.add_argument("--batches", default="1,2,4,8,16", help="the --max-batch values to compare (1 first)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=8, help="requests each client sends")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--page", action="store_true", help="write them to docs/generated/ for the Step 7 page")
    args = parser.parse_args(argv)
    try:
        sizes = [int(b) for b in args.batches.split(",")]
    except ValueError:
        parser.error(f"--batches takes numbers separated by commas, like 1,4,16; got {args.batches!r}")
    if sizes[0] != 1 or min(sizes) < 1 or args.clients < 1 or args.per_client < 1 or not 1 <= args.new_tokens <= 64:
        parser.error("--batches must start with 1; --clients and --per-client at least 1; --new-tokens 1 to 64")

    prompts = openings("test", 200)
    runs = {
        "clients": args.clients,
        "per_client": args.per_client,
        "new_tokens": args.new_tokens,
        "cpu_count": os.cpu_count(),
        "run": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "results": [],
    }
    for size in sizes:
        # --timeout 300: a load test measures latency; on a busy machine queued requests wait long
        with running_server(
            "--max-batch", size, "--rate-limit", 100000, "--timeout", 300, env={"GUIDE_API_KEYS": ""}
        ) as base:
            result = asyncio.run(load(base, prompts, args.clients, args.per_client, args.new_tokens))
        runs["results"].append({"max_batch": size, **result})
        print(f"--max-batch {size}: {result['tokens_per_s']:.0f} tokens/s", file=sys.stderr)
    print(table(runs), end="")
    for folder in [f for f in (args.out, args.page and GENERATED) if f]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = "step7_benchmark" if folder == GENERATED else "benchmark"
        (folder / f"{stem}.json").write_text(json.dumps(runs, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        (folder / f"{stem}.txt").write_text(table(runs), encoding="utf-8")
        plot(runs).savefig(folder / f"{stem}.png", dpi=110, metadata={"Description": f"run {runs['run']}"})


if __name__ == "__main__":
    main()
