"""How attention's time and memory grow with sequence length: our naive version vs SDPA.

Run it: ``python snippets/step2_architecture/attention_cost.py`` (``--out DIR`` also saves
attention_cost.json and a plot). The naive version builds the whole n x n score matrix; the
fused kernel behind torch.nn.functional.scaled_dot_product_attention works in tiles.
"""

# --8<-- [start:imports]
import functools
import statistics
import time

import matplotlib
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from step2_architecture.attention import scaled_dot_product_attention as naive_attention

# --8<-- [end:imports]
# isort: split
from guide import cli, pick_device, seed_everything, write_metrics  # cli: the command line every example shares


# --8<-- [start:measure]
def peak_memory_bytes(fn, device="cpu"):
    """Peak bytes allocated while ``fn`` runs: CUDA's own counter on a GPU; on the CPU,
    replayed from the PyTorch profiler's allocation log."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - baseline
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.events() if e.cpu_memory_usage), key=lambda e: e.time_range.start)
    current = peak = 0
    for event in events:  # + for an allocation, - for a free
        current += event.cpu_memory_usage
        peak = max(peak, current)
    return peak


def median_seconds(fn, device, repeats=3):
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fn()  # warm-up: the first call pays for one-off set-up
    times = []
    for _ in range(repeats):
        sync()  # GPU calls return before the work is done: wait for it
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(lengths=(128, 256, 512, 1024, 2048), heads=4, d_head=32, device=None):
    device = device or torch.device("cpu")
    rows = []
    for n in lengths:
        q, k, v = (torch.randn(1, heads, n, d_head, device=device) for _ in range(3))
        with torch.no_grad():
            for name, attend in [("naive", naive_attention), ("sdpa", F.scaled_dot_product_attention)]:
                fn = functools.partial(attend, q, k, v)
                rows.append(
                    {
                        "impl": name,
                        "n": n,
                        "seconds": median_seconds(fn, device),
                        "peak_bytes": peak_memory_bytes(fn, device),
                    }
                )
    return rows
    # --8<-- [end:measure]


def plot(rows, path=None):
    """Two panels, time and memory against sequence length, log-log."""
    if path is not None:
        matplotlib.use("Agg")

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(9, 3.5))
    for impl, style in [("naive", "o-"), ("sdpa", "s-")]:
        mine = [r for r in rows if r["impl"] == impl]
        ns = [r["n"] for r in mine]
        ax_t.plot(ns, [r["seconds"] * 1e3 for r in mine], style, label=impl)
        ax_m.plot(ns, [r["peak_bytes"] / 2**20 for r in mine], style, label=impl)
    for ax, label in [(ax_t, "time (ms)"), (ax_m, "peak memory (MiB)")]:
        ax.set(xscale="log", yscale="log", xlabel="sequence length n", ylabel=label)
        ax.set_xscale("log", base=2)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("Attention cost: naive O(n²) memory vs fused SDPA")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="attention_cost.json and attention_cost.png")
    parser.add_argument(
        "--lengths",
        type=int,
        nargs="+",
        help="sequence lengths (default: 128 to 2048 on a CPU, 1024 to 16384 on a GPU)",
    )
    parser.add_argument("--device", help="cpu or cuda (default: the best available)")
    args = parser.parse_args(argv)
    if args.lengths and min(args.lengths) < 1:
        parser.error("--lengths must be positive integers, e.g. --lengths 128 256 512")

    seed_everything(0)
    device = pick_device(args.device)
    if device.type not in ("cpu", "cuda"):
        parser.error(f"memory can be measured on cpu or cuda, not {device.type}; pass --device cpu")
    default = [128, 256, 512, 1024, 2048] if device.type == "cpu" else [1024, 2048, 4096, 8192, 16384]
    print(f"device: {device.type}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    rows = measure(tuple(args.lengths or default), device=device)
    print(f"{'n':>5} {'impl':>6} {'time':>10} {'peak memory':>12}")
    for r in rows:
        print(f"{r['n']:>5} {r['impl']:>6} {r['seconds'] * 1e3:>7.2f} ms {r['peak_bytes'] / 2**20:>8.1f} MiB")
    write_metrics(args.out, "attention_cost", {"device": device.type, "rows": rows})
    if args.out:
        plot(rows, f"{args.out}/attention_cost.png")


if __name__ == "__main__":
    main()
