"""Step 7: the service's routes, through FastAPI's in-process TestClient (the app, its lifespan
and the model loaded in this process), and the real server on 127.0.0.1 over HTTP: a smoke test
and the concurrent requests that must share batches. (The fuzzer and the browser tests also
use the real server.)"""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service_utils import in_process
from step7_deployment.app import Settings
from testing_utils import SERVICE_KEYS, SERVICE_RATE_LIMIT

KEY, BURST, BATCH = SERVICE_KEYS[:3]
LIMIT = SERVICE_RATE_LIMIT


@pytest.fixture(scope="module")
def server(guide_model):
    """Keys required, a rate limit: as the session's real server (the ``service`` fixture)."""
    settings = Settings(api_keys=frozenset(SERVICE_KEYS), rate_limit=LIMIT)
    with in_process(settings, headers={"X-API-Key": KEY}) as client:
        yield client


def test_the_real_server_answers_over_http(service):
    """The smoke test of the process a reader starts: uvicorn, a port, the same routes."""
    assert service.get("/health").json() == {"status": "ok"}
    payload = {"prompt": "Mara Lane is a nurse in Ashford.", "max_new_tokens": 8}
    whole = service.post("/v1/generate", json=payload)
    assert whole.status_code == 200 and whole.json()["text"].strip()
    with service.stream("POST", "/v1/generate/stream", json=payload) as r:
        assert "event: done" in list(r.iter_lines())
    assert service.post("/v1/generate", json=payload, headers={"X-API-Key": "wrong"}).status_code == 401


def test_health_says_ok(server):
    assert server.get("/health").json() == {"status": "ok"}


def test_generate_continues_a_story(server):
    r = server.post("/v1/generate", json={"prompt": "Mara Lane is a nurse in Ashford.", "max_new_tokens": 20})
    assert r.status_code == 200, r.text
    body = r.json()
    assert 1 <= body["tokens"] <= 20 and body["text"].strip()
    again = server.post("/v1/generate", json={"prompt": "Mara Lane is a nurse in Ashford.", "max_new_tokens": 20})
    assert again.json() == body  # temperature 0: greedy, the same answer every time


def test_streaming_sends_the_same_text_piece_by_piece(server):
    payload = {"prompt": "Omar Reed is a baker in Glenrock.", "max_new_tokens": 24}
    whole = server.post("/v1/generate", json=payload).json()["text"]
    pieces, done = [], False
    with server.stream("POST", "/v1/generate/stream", json=payload) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: ") and not done:
                data = json.loads(line[6:])
                if data:
                    pieces.append(data["text"])
            done = done or line == "event: done"
    assert done and len(pieces) > 1
    assert "".join(pieces).strip() == whole.strip()


def test_classify_reads_the_day(server):
    good = server.post(
        "/v1/classify",
        json={"text": "Mara Lane is a chef in Elmstead. On Monday, the diners brought flowers to say thank you."},
    )
    bad = server.post(
        "/v1/classify",
        json={
            "text": "Mara Lane is a chef in Elmstead. On Monday, a fire broke out "
            "at the kitchen, and the soups was ruined.",
            "name": "Mara",
        },
    )
    assert good.json()["label"] == "good day" and bad.json()["label"] == "bad day"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"prompt": "x" * 401}, "at most 400 characters"),
        ({"prompt": "Hello", "max_new_tokens": 1000}, "less than or equal to 64"),
        ({"prompt": ""}, "at least 1 character"),
        ({"prompt": 42}, "valid string"),
        ({}, "Field required"),
    ],
)
def test_bad_input_gets_422_with_a_message(server, payload, message):
    r = server.post("/v1/generate", json=payload)
    assert r.status_code == 422 and message in r.text


def test_malformed_json_is_a_422_not_a_crash(server):
    r = server.post("/v1/generate", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.text
    assert server.get("/health").status_code == 200


def test_a_missing_or_wrong_key_is_401(server):
    for headers in ({"X-API-Key": ""}, {"X-API-Key": "wrong"}):
        r = server.post("/v1/generate", json={"prompt": "Hi"}, headers=headers)
        assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]


def test_too_many_requests_is_429_with_retry_after(server):
    codes = [
        server.post("/v1/classify", json={"text": "A day."}, headers={"X-API-Key": BURST}).status_code
        for _ in range(LIMIT + 2)
    ]
    assert codes[:LIMIT] == [200] * LIMIT and codes[LIMIT:] == [429, 429]
    r = server.post("/v1/classify", json={"text": "A day."}, headers={"X-API-Key": BURST})
    assert int(r.headers["Retry-After"]) >= 1
    assert server.post("/v1/classify", json={"text": "A day."}).status_code == 200  # other keys unaffected


def test_openapi_docs_describe_the_limits(server):
    schema = server.get("/openapi.json").json()
    fields = schema["components"]["schemas"]["GenerateRequest"]["properties"]
    assert fields["prompt"]["maxLength"] == 400 and fields["max_new_tokens"]["maximum"] == 64
    assert server.get("/docs").status_code == 200


def test_bad_flags_say_what_is_wrong(refuses, tmp_path):
    proc = refuses("step7_deployment/app.py", "--port", "70000", cwd=tmp_path)
    assert proc.returncode == 2 and "--port must be between 1 and 65535" in proc.stderr
    proc = refuses("step7_deployment/app.py", "--max-queue", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "--max-queue must be at least 1" in proc.stderr


def test_metrics_count_requests_latency_and_tokens(server):
    server.post("/v1/generate", json={"prompt": "Mara Lane is a nurse.", "max_new_tokens": 5})
    text = server.get("/metrics").text
    assert 'requests_total{route="/v1/generate",status="200"}' in text
    assert "request_latency_seconds_bucket" in text and "generation_tokens_per_second_count" in text
    generated = next(float(line.split()[-1]) for line in text.splitlines() if line.startswith("generated_tokens_total"))
    assert generated >= 5
    assert 'status="422"' in text  # errors are counted too


def test_planted_personal_data_never_reaches_the_logs(server, caplog):
    caplog.set_level(logging.INFO, logger="guide.service")
    pii = ["zoe.quill@example.org", "+44 20 7946 0958", "4111 1111 1111 1111", "Mara Lane"]
    prompt = f"{pii[3]} wrote from {pii[0]}, phone {pii[1]}, card {pii[2]}."
    assert server.post("/v1/generate", json={"prompt": prompt, "max_new_tokens": 3}).status_code == 200
    log = caplog.text
    assert '"route": "/v1/generate"' in log and "[EMAIL]" in log and "[CARD]" in log
    for item in pii:
        assert item not in log, f"{item!r} reached the log"


def test_a_prompt_longer_than_the_context_is_a_422_that_says_so(server):
    r = server.post("/v1/generate", json={"prompt": "1" * 300, "max_new_tokens": 4})  # 300 tokens, 128 fit
    assert r.status_code == 422 and "exceeds the model's context of 128 tokens" in r.json()["detail"]
    story = "Mara Lane is a nurse in Ashford. She has a cat called Pepper. " * 5  # fits, but not with 64 more
    assert server.post("/v1/generate", json={"prompt": story, "max_new_tokens": 8}).status_code == 200
    r = server.post("/v1/generate", json={"prompt": story, "max_new_tokens": 64})
    assert r.status_code == 422 and "ask for fewer" in r.json()["detail"]
    r = server.post("/v1/classify", json={"text": "1" * 300})
    assert r.status_code == 422 and "context" in r.json()["detail"]


def test_graphql_gives_the_same_answers_as_rest(server):
    query = 'query { generate(prompt: "Omar Reed is a baker in Glenrock.", maxNewTokens: 12) { text tokens } }'
    r = server.post("/graphql", json={"query": query})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    rest = server.post("/v1/generate", json={"prompt": "Omar Reed is a baker in Glenrock.", "max_new_tokens": 12})
    assert r.json()["data"]["generate"] == rest.json()
    story = "Mara Lane is a chef in Elmstead. On Monday, the diners brought flowers to say thank you."
    r = server.post("/graphql", json={"query": f'{{ classify(text: "{story}") {{ label pPositive }} }}'})
    rest = server.post("/v1/classify", json={"text": story}).json()
    assert r.json()["data"]["classify"] == {"label": rest["label"], "pPositive": rest["p_positive"]}


def test_graphql_enforces_the_same_limits_and_keys(server):
    too_long = server.post("/graphql", json={"query": '{ generate(prompt: "Hi", maxNewTokens: 1000) { text } }'})
    assert "max_new_tokens: Input should be less than or equal to 64" in too_long.json()["errors"][0]["message"]
    no_key = server.post("/graphql", json={"query": '{ generate(prompt: "Hi") { text } }'}, headers={"X-API-Key": "x"})
    assert no_key.status_code == 401 and "X-API-Key" in no_key.json()["detail"]  # as REST answers it


def batch_sizes(server):
    metrics = server.get("/metrics").text
    value = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines() if line.startswith("batch_size_")}
    return value["batch_size_count"], value["batch_size_sum"]


def test_concurrent_requests_share_batches_and_get_their_own_answers(service):
    server = service  # the real server: eight clients over HTTP at once
    prompts = [
        f"{name} Lane is a {job} in Ashford."
        for name, job in zip(
            ["Mara", "Omar", "Lucia", "Priya", "Elena", "Nadia", "Sofia", "Mei"],
            ["nurse", "baker", "chef", "pilot", "doctor", "farmer", "painter", "teacher"],
        )
    ]
    asks = [{"prompt": p, "max_new_tokens": 6 + 3 * i} for i, p in enumerate(prompts)]  # different lengths too
    post = lambda ask: server.post("/v1/generate", json=ask, headers={"X-API-Key": BATCH}).json()  # noqa: E731
    alone = [post(ask) for ask in asks]
    count, total = batch_sizes(server)
    with ThreadPoolExecutor(len(asks)) as pool:
        together = list(pool.map(post, asks))
    count2, total2 = batch_sizes(server)
    assert together == alone  # greedy answers do not depend on the company a request keeps
    assert total2 - total == len(asks) and count2 - count < len(asks)  # fewer generate() calls than requests
    assert all(a["tokens"] <= ask["max_new_tokens"] for a, ask in zip(together, asks))  # each its own limit


def test_the_chat_page_is_served(server):
    r = server.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'id="chat"' in r.text and "/v1/generate/stream" in r.text and "http" not in r.text.split("<script>")[1]


@pytest.fixture(scope="module")
def impatient_server(guide_model):
    """A second app: open (no keys), 10 requests a minute, and a timeout (1 ms) no generation
    can meet."""
    with in_process(Settings(timeout=0.001, rate_limit=10)) as client:
        yield client


def test_a_request_that_runs_past_the_timeout_is_a_504_and_the_worker_lives_on(impatient_server):
    r = impatient_server.post("/v1/generate", json={"prompt": "Mara Lane is a nurse.", "max_new_tokens": 64})
    assert r.status_code == 504 and "timeout" in r.json()["detail"]
    with impatient_server.stream(
        "POST", "/v1/generate/stream", json={"prompt": "Mara Lane", "max_new_tokens": 64}
    ) as s:
        lines = list(s.iter_lines())
    assert "event: error" in lines and any("timeout" in line for line in lines)
    assert impatient_server.get("/health").status_code == 200
    assert 'status="504"' in impatient_server.get("/metrics").text


def test_an_open_server_limits_by_address_so_invented_keys_buy_nothing(impatient_server):
    codes = [
        impatient_server.post("/v1/classify", json={"text": "A day."}, headers={"X-API-Key": f"made-up-{i}"})
        for i in range(12)
    ]
    assert 429 in [r.status_code for r in codes]
    assert sum(r.status_code != 429 for r in codes) <= 10  # the stream and generate tests used some too


def test_a_model_that_cannot_load_says_why_on_the_probes(guide_model, tmp_path, caplog):
    missing = tmp_path / "no-model-here"
    with in_process(Settings(model_name=str(missing)), ready_path="/openapi.json") as client:
        for _ in range(100):  # the load fails in the background, within moments
            ready = client.get("/ready")
            if "could not be loaded" in ready.text:
                break
            time.sleep(0.1)
        assert ready.status_code == 503 and str(missing) in ready.json()["detail"]
        health = client.get("/health")
        assert health.status_code == 500 and "could not be loaded" in health.json()["detail"]  # restart me
        r = client.post("/v1/generate", json={"prompt": "Hi"})
        assert r.status_code == 503 and "could not be loaded" in r.json()["detail"]
    assert '"event": "load failed"' in caplog.text
