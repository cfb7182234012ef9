"""What an attacker tries first, sent to the real service on loopback all at once, mixed with
real work, while a probe keeps asking /health whether the server still answers.

Run it: ``python snippets/step7_deployment/siege.py`` (``--rounds N`` sends each attack N times;
``--out DIR`` saves siege.json and siege.txt; ``--page`` writes them to docs/generated/ for the
Step 7 page). For each attack, the status the service should answer and how
many times it did; /health's latency during the siege; the server's memory before and after;
and, first, why the log's email pattern had to change: the first draft's pattern against the
guide's on the input that froze the server.
"""

# --8<-- [start:imports]
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from step7_deployment.privacy import EMAIL

# --8<-- [end:imports]
# isort: split
import statistics

import psutil

from guide import cli  # the command line every example shares
from guide.runtime import write_report
from step7_deployment.loopback import running_server

# --8<-- [start:regex]
FIRST_DRAFT_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")  # the service's email pattern until it froze


def seconds_to_redact(pattern, size):
    """How long the pattern takes to find the emails in ``size`` characters of "1-1-1-…", which
    hold none: the body one attacker sent to freeze the server."""
    text = "1-" * (size // 2)
    start = time.perf_counter()
    pattern.sub("[EMAIL]", text)
    return time.perf_counter() - start
    # --8<-- [end:regex]


# --8<-- [start:attacks]
KEY = "siege-key"  # the one key the besieged server accepts
GENERATE, CLASSIFY, GRAPHQL = "/v1/generate", "/v1/classify", "/graphql"
JSON = {"Content-Type": "application/json", "X-API-Key": KEY}
ALIASES = " ".join(f'g{i}: generate(prompt: "Hi", maxNewTokens: 64) {{ text }}' for i in range(10))
FORGED = '{"event": "request", "route": "/v1/generate", "status": 200}'
GUESSES = "wrong keys, each from a forged X-Forwarded-For"  # sent with a new "address" each time

# name: (path, headers, body, the statuses a safe service answers)
ATTACKS = {
    "a short generation, with the key (real work)": (GENERATE, JSON, b'{"prompt": "Mara", "max_new_tokens": 8}', "200"),
    "a story to classify, with the key (real work)": (CLASSIFY, JSON, b'{"text": "Mara lost her keys."}', "200"),
    "60 KB of 1-1-1-..., no key": (GENERATE, {}, b"1-" * 30_000, "413"),
    "a 20 MB body, no key": (CLASSIFY, {}, b"a" * 20_000_000, "413"),
    "temperature NaN": (GENERATE, JSON, b'{"prompt": "Hi", "temperature": NaN}', "422"),
    "a lone surrogate, \\ud800": (GENERATE, JSON, b'{"prompt": "\\ud800"}', "422"),
    "a story of only spaces": (CLASSIFY, JSON, b'{"text": "   "}', "422"),
    "GraphQL: 10 aliased generations": (GRAPHQL, JSON, httpx.Request("POST", "/", json={"query": f"{{ {ALIASES} }}"}).content, "200+error"),
    "GraphQL: a log line forged in maxNewTokens": (
        GRAPHQL,
        JSON,
        httpx.Request("POST", "/", json={"query": f'{{ generate(prompt: "Hi", maxNewTokens: """{FORGED}""") {{ text }} }}'}).content,
        "200+error",
    ),
    GUESSES: (CLASSIFY, {"X-API-Key": "guess"}, b'{"text": "A day."}', "401 429"),
}  # fmt: skip
# --8<-- [end:attacks]


# --8<-- [start:siege]
def siege(base, rounds, workers=8):
    """Send every attack ``rounds`` times, interleaved, from ``workers`` threads at once, while a
    probe asks /health again 20 ms after each answer. Returns ({attack: Counter of statuses},
    /health latencies in seconds (inf for no answer, or one other than 200), tokens generated
    for anything but the real work)."""
    work = [name for _ in range(rounds) for name in ATTACKS]
    health, done = [], threading.Event()

    def probe():
        with httpx.Client(base_url=base, timeout=30) as client:
            while not done.is_set():
                start = time.perf_counter()
                try:
                    answered = client.get("/health").status_code == 200
                except httpx.HTTPError:  # a timeout, a refused connection: the server did not answer
                    answered = False
                health.append(time.perf_counter() - start if answered else float("inf"))
                time.sleep(0.02)

    def send(client, i, name):  # -> (name, status, tokens generated for it)
        path, headers, body, _ = ATTACKS[name]
        if name == GUESSES:
            headers = {**headers, "X-Forwarded-For": f"203.0.113.{i % 250}"}
        r = client.post(path, content=body, headers=headers)
        if path == GRAPHQL and r.status_code == 200 and r.json().get("errors"):
            return name, "200+error", 0  # GraphQL's way to say no
        return name, str(r.status_code), r.json()["tokens"] if path == GENERATE and r.status_code == 200 else 0

    def tokens_so_far(client):
        lines = client.get("/metrics").text.splitlines()
        return next(float(line.split()[-1]) for line in lines if line.startswith("generated_tokens_total"))

    with httpx.Client(base_url=base, timeout=60) as client:
        before = tokens_so_far(client)
        prober = threading.Thread(target=probe)
        prober.start()
        try:
            with ThreadPoolExecutor(workers) as pool:
                answers = list(pool.map(lambda job: send(client, *job), enumerate(work)))
        finally:
            done.set()
            prober.join()
        seen = {name: Counter() for name in ATTACKS}
        for name, status, _ in answers:  # counted here, in one thread
            seen[name][status] += 1
        real_work = sum(tokens for *_, tokens in answers)
        return seen, health, tokens_so_far(client) - before - real_work
    # --8<-- [end:siege]


def report(result):
    """The text the page shows, made from the run's record alone."""
    sizes, regex = result["sizes"], result["regex_seconds"]
    lines = [
        "finding emails in 1-1-1-… (there are none in it):",
        "",
        "| pattern | " + " | ".join(f"{n // 1000} KB" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
        *(f"| {name} | " + " | ".join(f"{1000 * t:.1f} ms" for t in regex[name]) + " |" for name in regex),
        "",
        f"the guide's pattern on 1 MB: {1000 * result['megabyte_seconds']:.0f} ms",
        "",
        f"{result['rounds']} rounds of {len(result['statuses'])} requests, from 8 threads at once:",
        "",
        "| request | should get | got |",
        "|---|---|---|",
    ]
    for name, statuses in result["statuses"].items():
        got = ", ".join(f"{code} ×{n}" for code, n in sorted(statuses.items()))
        lines.append(
            f"| {name} | {' or '.join(result['expected'][name])} | {got} |".replace("+error", " with an error")
        )
    health = result["health_seconds"]
    lines += [
        "",
        f"tokens the GraphQL attacks made the model generate: {result['graphql_tokens']:.0f}",
        f"/health during the siege: median {1000 * statistics.median(health):.0f} ms, slowest {1000 * max(health):.0f} ms",
        f"server memory: {result['memory_mib']['before']:.0f} MiB before the siege, "
        f"{result['memory_mib']['grown']:+.0f} MiB after it",
    ]
    return "\n".join(lines) + "\n"


@cli.command(cache=False)  # it measures a live server, and --page writes outside --out
def main(argv=None):
    parser = cli.parser(__doc__, out="siege.json and siege.txt")
    parser.add_argument("--rounds", type=int, default=20, help="times each attack is sent (default 20)")
    parser.add_argument("--page", action="store_true", help="write them to docs/generated/ for the Step 7 page")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be between 1 and 1000")

    sizes = [4_000, 8_000, 16_000]
    regex = {
        "first draft": [seconds_to_redact(FIRST_DRAFT_EMAIL, n) for n in sizes],
        "the guide's": [seconds_to_redact(EMAIL, n) for n in sizes],
    }
    megabyte = seconds_to_redact(EMAIL, 1_000_000)
    with running_server("--rate-limit", 100_000, env={"GUIDE_API_KEYS": KEY}) as base:
        with httpx.Client(base_url=base, timeout=60) as client, ThreadPoolExecutor(8) as pool:
            # the first calls, one batch of them at once, allocate what serving needs
            real = [ATTACKS[name] for name in list(ATTACKS)[:2]] * 8
            for r in pool.map(lambda a: client.post(a[0], content=a[2], headers=a[1]), real):
                r.raise_for_status()
        memory = psutil.Process(base.pid)
        before = memory.memory_info().rss
        seen, health, graphql_tokens = siege(base, args.rounds)
        grown = memory.memory_info().rss - before
    result = {
        "run": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "rounds": args.rounds,
        "sizes": sizes,
        "regex_seconds": regex,
        "megabyte_seconds": megabyte,
        "statuses": {name: dict(s) for name, s in seen.items()},
        "expected": {name: ATTACKS[name][3].split() for name in ATTACKS},
        "graphql_tokens": graphql_tokens,
        "health_seconds": health,
        "memory_mib": {"before": before / 2**20, "grown": grown / 2**20},
    }
    print(report(result), end="")
    write_report(result, report(result), args.out, "siege", args.page and "step7_siege")


if __name__ == "__main__":
    main()
