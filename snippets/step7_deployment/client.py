"""Talk to the service the way a client does: start it on loopback, then call every route over
HTTP and print what comes back, errors included.

Run it: ``python snippets/step7_deployment/client.py`` (starts its own server; ``--url`` talks to
one you already run, with ``--key`` as its API key).
"""

# --8<-- [start:imports]
import json
import time
from pathlib import Path

import httpx

# --8<-- [end:imports]
# isort: split
from guide import cli
from step7_deployment.loopback import running_server


# --8<-- [start:calls]
def show(label, r):
    """Print one answer: its status code and its body."""
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text[:80]
    print(f"{label} -> {r.status_code} {json.dumps(body)}")


def tour(client, other_key):
    """Every route once, then every way a request can be refused."""
    show("GET /ready", client.get("/ready"))
    story = {"prompt": "Omar Reed is a baker in Glenrock.", "max_new_tokens": 24}
    show("POST /v1/generate", client.post("/v1/generate", json=story))

    whole, pieces = client.post("/v1/generate", json=story).json()["text"], []
    with client.stream("POST", "/v1/generate/stream", json=story) as r:
        for line in r.iter_lines():  # server-sent events: "data: {...}" lines, then "event: done"
            if line.startswith("data: ") and "text" in line:
                pieces.append(json.loads(line[6:])["text"])
    print(
        f"POST /v1/generate/stream -> {r.status_code}, {'several pieces' if len(pieces) > 1 else 'one piece'}; "
        f"joined, they are the answer above: {''.join(pieces) == whole}"
    )

    day = "Mara Lane is a chef in Elmstead. On Monday, a fire broke out at the kitchen, and the soups was ruined."
    show("POST /v1/classify", client.post("/v1/classify", json={"text": day}))
    query = '{ generate(prompt: "Omar Reed is a baker in Glenrock.", maxNewTokens: 8) { text tokens } }'
    show("POST /graphql", client.post("/graphql", json={"query": query}))

    print("\nrefused, with a reason:")
    show("no API key", client.post("/v1/generate", json=story, headers={"X-API-Key": ""}))
    show("max_new_tokens 1000", client.post("/v1/generate", json={"prompt": "Hi", "max_new_tokens": 1000}))
    show("300-token prompt", client.post("/v1/generate", json={"prompt": "1" * 300}))
    show("broken JSON", client.post("/v1/generate", content=b"{oops", headers={"Content-Type": "application/json"}))
    codes = [client.post("/v1/classify", json={"text": "A day."}, headers={"X-API-Key": other_key}) for _ in range(12)]
    print(
        f"12 quick requests with one key -> {[r.status_code for r in codes]}, "
        f"Retry-After: {codes[-1].headers.get('retry-after')} s"
    )
    # --8<-- [end:calls]


@cli.command(cache=False)
def main(argv=None):
    parser = cli.parser(__doc__, out="the server's log (server.log)")
    parser.add_argument("--url", help="a running service (default: start one on 127.0.0.1)")
    parser.add_argument("--key", default="demo-key", help="its API key")
    args = parser.parse_args(argv)

    if args.url:
        with httpx.Client(base_url=args.url, headers={"X-API-Key": args.key}, timeout=30) as client:
            return tour(client, args.key)
    log = Path(args.out or ".") / "server.log"
    start = time.perf_counter()
    env = {"GUIDE_API_KEYS": f"{args.key},other-key"}
    with running_server("--rate-limit", 10, env=env, log=log) as base:
        print(f"server ready on {base.rsplit(':', 1)[0]} in {time.perf_counter() - start:.1f} s")
        with httpx.Client(base_url=base, headers={"X-API-Key": args.key}, timeout=30) as client:
            tour(client, "other-key")
            pii = "Mara Lane (mara.lane@example.org, +44 20 7946 0958) asked for a refund."
            client.post("/v1/generate", json={"prompt": pii, "max_new_tokens": 4})
            time.sleep(0.3)
            line = next(json.loads(x) for x in reversed(log.read_text().splitlines()) if "refund" in x)
            shown = json.dumps(line | {"ms": "…"}, ensure_ascii=False)  # its time differs run to run
            print(f"\nthe server's log line for a prompt with personal data:\n{shown}")
            metrics = client.get("/metrics").text.splitlines()
            print("\nfrom /metrics:")
            for prefix in ('requests_total{route="/v1/generate"', "generated_tokens_total", "batch_size_count"):
                print("\n".join(m for m in metrics if m.startswith(prefix)))


if __name__ == "__main__":
    main()
