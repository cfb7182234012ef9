"""Step 7: the service, started as a real server on 127.0.0.1 and spoken to over HTTP."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO

KEY, BURST = "test-key", "burst-key"
LIMIT = 30


@pytest.fixture(scope="module")
def server(guide_model, tmp_path_factory):
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "GUIDE_API_KEYS": f"{KEY},{BURST}", "GUIDE_DEVICE": "cpu"}
    command = [sys.executable, str(REPO / "snippets/step7_deployment/app.py"), "--port", str(port),
               "--rate-limit", str(LIMIT)]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            while time.perf_counter() - start < 90:
                try:
                    if client.get("/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, f"the server exited:\n{log.read_text()}"
                time.sleep(0.2)
            else:
                pytest.fail(f"the server was not ready within 90 s:\n{log.read_text()}")
            client.startup_seconds = time.perf_counter() - start
            client.log_path = log
            client.headers["X-API-Key"] = KEY
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_it_starts_in_a_few_seconds(server):
    assert server.startup_seconds < 20
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
    good = server.post("/v1/classify", json={"text": "Mara Lane is a chef in Elmstead. On Monday, the diners "
                                             "brought flowers to say thank you."})  # fmt: skip
    bad = server.post("/v1/classify", json={"text": "Mara Lane is a chef in Elmstead. On Monday, a fire broke out "
                                            "at the kitchen, and the soups was ruined.", "name": "Mara"})  # fmt: skip
    assert good.json()["label"] == "good day" and bad.json()["label"] == "bad day"


@pytest.mark.parametrize(("payload", "message"), [
    ({"prompt": "x" * 401}, "at most 400 characters"),
    ({"prompt": "Hello", "max_new_tokens": 1000}, "less than or equal to 64"),
    ({"prompt": ""}, "at least 1 character"),
    ({"prompt": 42}, "valid string"),
    ({}, "Field required"),
])  # fmt: skip
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
    codes = [server.post("/v1/classify", json={"text": "A day."}, headers={"X-API-Key": BURST}).status_code
             for _ in range(LIMIT + 2)]  # fmt: skip
    assert codes[:LIMIT] == [200] * LIMIT and codes[LIMIT:] == [429, 429]
    r = server.post("/v1/classify", json={"text": "A day."}, headers={"X-API-Key": BURST})
    assert int(r.headers["Retry-After"]) >= 1
    assert server.post("/v1/classify", json={"text": "A day."}).status_code == 200  # other keys unaffected


def test_openapi_docs_describe_the_limits(server):
    schema = server.get("/openapi.json").json()
    fields = schema["components"]["schemas"]["GenerateRequest"]["properties"]
    assert fields["prompt"]["maxLength"] == 400 and fields["max_new_tokens"]["maximum"] == 64
    assert server.get("/docs").status_code == 200


def test_bad_flags_say_what_is_wrong(example, tmp_path):
    proc = example("step7_deployment/app.py", "--port", "70000", cwd=tmp_path, expect_ok=False)
    assert proc.returncode == 2 and "--port must be between 1 and 65535" in proc.stderr


def test_metrics_count_requests_latency_and_tokens(server):
    server.post("/v1/generate", json={"prompt": "Mara Lane is a nurse.", "max_new_tokens": 5})
    text = server.get("/metrics").text
    assert 'requests_total{route="/v1/generate",status="200"}' in text
    assert "request_latency_seconds_bucket" in text and "generation_tokens_per_second_count" in text
    generated = next(float(line.split()[-1]) for line in text.splitlines() if line.startswith("generated_tokens_total"))
    assert generated >= 5
    assert 'status="422"' in text  # errors are counted too


def test_planted_personal_data_never_reaches_the_logs(server):
    pii = ["zoe.quill@example.org", "+44 20 7946 0958", "4111 1111 1111 1111", "Mara Lane"]
    prompt = f"{pii[3]} wrote from {pii[0]}, phone {pii[1]}, card {pii[2]}."
    assert server.post("/v1/generate", json={"prompt": prompt, "max_new_tokens": 3}).status_code == 200
    time.sleep(0.3)  # let the log line be written
    log = server.log_path.read_text()
    assert '"route": "/v1/generate"' in log and "[EMAIL]" in log and "[CARD]" in log
    for item in pii:
        assert item not in log, f"{item!r} reached the log"
