"""Step 7: schemathesis generates requests from the service's OpenAPI schema (valid ones and
edge cases: odd Unicode, boundary lengths, extreme numbers); none may get a 5xx."""

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

KEY = "fuzz-key"
CASES = Counter()


@pytest.fixture(scope="module")
def fuzz_server(guide_model, tmp_path_factory):
    """Its own server: no rate limit to get in the way, a key to send."""
    from step7_deployment.benchmark import running_server

    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    with running_server("--rate-limit", 1_000_000, env={"GUIDE_API_KEYS": KEY}, log=log) as base:
        yield base


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=90, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_gets_a_server_error(case):
    response = case.call(headers={"X-API-Key": KEY}, timeout=30)
    CASES[case.operation.label] += 1
    assert response.status_code < 500, f"{case.operation.label} -> {response.status_code}: {response.text[:300]}"


def test_the_fuzzer_sent_at_least_200_requests():
    print(dict(CASES))
    assert sum(CASES.values()) >= 200, CASES
    assert {"POST /v1/generate", "POST /v1/generate/stream", "POST /v1/classify"} <= set(CASES), CASES
