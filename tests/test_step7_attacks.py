"""Step 7: what an attacker tries first, each as a test that sends the attack and sees the
service fail safe. (Found by a probe of the service on loopback; the page's "What an attacker
tries" section explains each one.)"""

import io
import json
import logging
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service_utils import in_process
from step7_deployment.app import GRAPHQL_LIMITS, MAX_BODY_BYTES, RateLimiter, Settings, api_keys
from step7_deployment.privacy import RedactingFormatter, redact
from testing_utils import REPO, SERVICE_KEYS

KEY = SERVICE_KEYS[0]
PII = ["zed@example.com", "zoë@example.com", "4111/1111/1111/1111", "4111_1111_1111_1111"]


@pytest.fixture(scope="module")
def server(guide_model):
    """Keys required; a rate limit no test here reaches but the one that tests it."""
    with in_process(Settings(api_keys=frozenset([KEY]), rate_limit=1000), headers={"X-API-Key": KEY}) as client:
        yield client


@pytest.fixture
def log_lines():
    """What reaches the log, formatted as the server formats every logger's records: a list
    that fills as the test runs, one string per line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    class Lines(list):
        def read(self):
            self[:] = stream.getvalue().splitlines()
            return self

    yield Lines()
    root.removeHandler(handler)
    root.setLevel(old_level)


# --- redaction in linear time ------------------------------------------------------------------

ADVERSARIAL = ["1-", "a.", "a@", "1 ", "(12)"]  # each repeated to a megabyte: "1-1-1-…"


def test_redacting_a_megabyte_of_adversarial_text_does_not_hang():
    """The old email pattern took 1.3 s on 20 KB of "1-1-…" and grew with the square of the
    length: hours for a megabyte. The linear patterns take a fraction of a second for each of
    these. This is a hang guard (120 s for all five, in a process of its own, imports
    included), not a speed test; the benchmark reports the times."""
    code = f"from step7_deployment.privacy import redact\nfor unit in {ADVERSARIAL!r}: redact(unit * (1_000_000 // len(unit)))"
    env = {"PYTHONPATH": str(REPO / "snippets"), "PATH": ""}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)


def test_addresses_and_cards_the_old_patterns_missed_are_redacted():
    assert redact(" ".join(PII)) == "[EMAIL] [EMAIL] [CARD] [CARD]"


# --- request bodies ----------------------------------------------------------------------------


def test_an_oversized_body_is_a_413_before_anything_reads_it(server):
    huge = b'{"prompt": "' + b"1-" * 10_000_000 + b'"}'  # 20 MB, and no key
    r = server.post("/v1/generate", content=huge, headers={"X-API-Key": "", "Content-Type": "application/json"})
    assert r.status_code == 413 and str(MAX_BODY_BYTES) in r.json()["detail"] and len(r.content) < 200


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(server):
    chunks = (b"1-" * 1000 for _ in range(100))  # chunked: no Content-Length to check
    r = server.post("/v1/generate", content=chunks, headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_validation_errors_never_echo_the_input(server):
    prompt = "x" * 5000  # over the length limit, under the body limit
    r = server.post("/v1/generate", json={"prompt": prompt})
    assert r.status_code == 422 and "at most 400 characters" in r.text and prompt not in r.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"prompt": "Hi", "temperature": NaN}', "temperature"),
        (b'{"prompt": "Hi", "temperature": Infinity}', "temperature"),
        (b'{"prompt": "Hi", "temperature": 1e309}', "temperature"),
        (b'{"prompt": "Hi \\ud800"}', "prompt"),
        (b'{"prompt": "   "}', "prompt"),
    ],
    ids=["NaN", "Infinity", "1e309", "lone surrogate", "only spaces"],
)
def test_values_json_allows_but_the_model_cannot_take_are_a_422_naming_the_field(server, body, field):
    r = server.post("/v1/generate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert [problem["loc"] for problem in r.json()["detail"]] == [["body", field]]


def test_a_story_of_only_spaces_is_a_422_not_a_crash(server):
    r = server.post("/v1/classify", json={"text": "   "})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"]


def test_a_bug_is_a_500_that_is_counted_and_logged(server, log_lines, monkeypatch):
    def broken(*_):
        raise RuntimeError("a planted bug, with zed@example.com in it")

    monkeypatch.setattr(server.app.state.service, "classify", broken)
    r = server.post("/v1/classify", json={"text": "A day."})
    assert r.status_code == 500 and "zed" not in r.text and "Traceback" not in r.text
    assert 'requests_total{route="/v1/classify",status="500"}' in server.get("/metrics").text
    logged = [json.loads(line) for line in log_lines.read()]
    errors = [entry for entry in logged if entry.get("event") == "error"]
    assert errors and "RuntimeError" in errors[0]["traceback"] and "zed@example.com" not in "".join(log_lines)


# --- the log -----------------------------------------------------------------------------------


def test_json_escapes_and_other_alphabets_do_not_slip_past_redaction(server, log_lines):
    body = '{"prompt": "from zed\\u0040example.com and zo\\u00eb@example.com", "max_new_tokens": 1}'
    r = server.post("/v1/generate", content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    request = next(json.loads(line) for line in log_lines.read() if '"event": "request"' in line)
    assert request["prompt"] == "from [EMAIL] and [EMAIL]"


def test_personal_data_in_a_graphql_error_is_redacted_in_strawberrys_log(server, log_lines):
    query = '{ generate(prompt: "card 4111 1111 1111 1111, zed@example.com", maxNewTokens: "many") { text } }'
    r = server.post("/graphql", json={"query": query})
    assert r.status_code == 200 and r.json()["errors"]
    text = "\n".join(log_lines.read())
    assert "strawberry" in text and "4111" not in text and "zed@" not in text


def test_a_forged_log_line_stays_inside_its_message(server, log_lines):
    forged = '{"event": "request", "route": "/v1/generate", "status": 200, "ms": 1.0}'
    query = f'{{ generate(prompt: "Hi", maxNewTokens: """\n{forged}\n""") {{ text }} }}'
    server.post("/graphql", json={"query": query})
    lines = log_lines.read()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)  # every line is one record
    assert not any(line == forged for line in lines) and any("ms" in line for line in lines)


# --- keys ----------------------------------------------------------------------------------------


def test_keys_are_stripped_so_a_b_means_a_and_b():
    assert api_keys("a, b ,, c") == {"a", "b", "c"} and api_keys(" ") == frozenset()


def test_guessing_keys_is_throttled_but_the_right_key_still_works(guide_model):
    with in_process(Settings(api_keys=frozenset([KEY]), failed_key_limit=10)) as client:
        guesses = [
            client.post("/v1/classify", json={"text": "A day."}, headers={"X-API-Key": f"guess-{i}"}) for i in range(12)
        ]
        assert [r.status_code for r in guesses] == [401] * 10 + [429] * 2
        assert "wrong keys" in guesses[-1].json()["detail"] and int(guesses[-1].headers["Retry-After"]) >= 1
        assert client.post("/v1/classify", json={"text": "A day."}, headers={"X-API-Key": KEY}).status_code == 200


def test_idle_callers_are_forgotten():
    limiter = RateLimiter(5, window=0.05)
    for i in range(1000):  # a thousand addresses, each seen once
        limiter(f"address 10.0.{i // 256}.{i % 256}")
    time.sleep(0.1)  # a whole window later
    limiter("address 10.1.0.1")
    assert list(limiter.calls) == ["address 10.1.0.1"]


# --- GraphQL -----------------------------------------------------------------------------------


def generated_tokens(server) -> float:
    metrics = server.get("/metrics").text.splitlines()
    return next(float(line.split()[-1]) for line in metrics if line.startswith("generated_tokens_total"))


def aliased(n: int) -> dict:
    return {
        "query": "{ " + " ".join(f'g{i}: generate(prompt: "Hi", maxNewTokens: 64) {{ text }}' for i in range(n)) + " }"
    }


def test_a_query_of_many_aliases_is_refused_before_it_generates(server):
    before = generated_tokens(server)
    assert server.post("/graphql", json=aliased(200)).status_code == 413  # 200 are over the body limit
    r = server.post("/graphql", json=aliased(10))  # under the body and token limits, over the alias limit
    assert r.json()["data"] is None and "aliases" in r.json()["errors"][0]["message"]
    assert generated_tokens(server) == before  # not one token generated
    few = " ".join(
        f'g{i}: generate(prompt: "Hi", maxNewTokens: 1) {{ tokens }}' for i in range(GRAPHQL_LIMITS["aliases"])
    )
    assert "errors" not in server.post("/graphql", json={"query": f"{{ {few} }}"}).json()


def test_a_huge_query_is_refused_by_its_token_count(server):
    r = server.post("/graphql", json={"query": "{ " + "__typename " * 300 + "}"})  # 3 KB, 302 tokens
    assert "token" in r.json()["errors"][0]["message"].lower()


def test_graphql_answers_keys_and_rate_limits_with_real_statuses(server, guide_model):
    query = {"query": '{ generate(prompt: "Hi", maxNewTokens: 1) { tokens } }'}
    assert server.post("/graphql", json=query, headers={"X-API-Key": "wrong"}).status_code == 401
    with in_process(Settings(api_keys=frozenset(["spender"]), rate_limit=5), headers={"X-API-Key": "spender"}) as c:
        codes = [c.post("/graphql", json=query).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]  # one request, one unit of the limit, however many fields
        assert int(c.post("/graphql", json=query).headers["Retry-After"]) >= 1
        assert 'requests_total{route="/graphql",status="429"}' in c.get("/metrics").text


def test_graphiql_introspection_and_get_queries_are_off(server):
    assert server.get("/graphql", headers={"Accept": "text/html"}).status_code == 404  # no GraphiQL page
    r = server.get("/graphql", params={"query": "{ __typename }"})
    assert r.status_code == 400 and "not allowed" in r.text
    r = server.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    assert r.json()["errors"] and "introspection" in r.json()["errors"][0]["message"].lower()


def test_the_explorer_flag_turns_them_on(guide_model):
    with in_process(Settings(graphql_explorer=True)) as client:
        assert client.get("/graphql", headers={"Accept": "text/html"}).status_code == 200
        assert "errors" not in client.post("/graphql", json={"query": "{ __schema { types { name } } }"}).json()


def test_a_flood_of_generations_is_refused_with_503_once_the_queue_is_full(guide_model):
    """Admission control: with the model busy and --max-queue requests waiting, the next one gets
    503 and Retry-After at once, instead of joining a queue that grows without bound; the
    waiting ones are still served, and the probes still answer."""
    settings = Settings(api_keys=frozenset([KEY]), rate_limit=1000, max_batch=1, max_queue=2, timeout=60)
    with in_process(settings, headers={"X-API-Key": KEY}) as client:
        batcher = client.app.state.service.batcher
        busy, release, run = threading.Event(), threading.Event(), batcher.run

        def held(batch):  # the model is busy until the test releases it
            busy.set()
            release.wait(60)
            run(batch)

        batcher.run = held
        payload = {"prompt": "Mara Lane is a nurse in Ashford.", "max_new_tokens": 4}
        with ThreadPoolExecutor(3) as pool:
            admitted = [pool.submit(client.post, "/v1/generate", json=payload)]
            assert busy.wait(30), "the first request never reached the model"
            admitted += [pool.submit(client.post, "/v1/generate", json=payload) for _ in range(2)]
            _wait_until(lambda: batcher.queue.qsize() == 2)
            refused = client.post("/v1/generate", json=payload)
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
            assert "2 requests are waiting" in refused.json()["detail"]
            assert client.get("/health").status_code == 200
            release.set()
            assert [f.result(timeout=60).status_code for f in admitted] == [200, 200, 200]
        assert client.post("/v1/generate", json=payload).status_code == 200  # the queue drained


def _wait_until(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held: the service hangs"
        time.sleep(0.01)
