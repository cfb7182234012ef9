"""Step 7: schemathesis generates requests from the service's OpenAPI schema (valid ones and
edge cases: odd Unicode, boundary lengths, extreme numbers), and GraphQL queries from its
GraphQL schema (hypothesis-graphql); none may get a 5xx."""

from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from guide.model import guide_model_dir
from step7_deployment.app import graphql_router
from step7_deployment.loopback import running_server
from testing_utils import READY_WITHIN

KEY = "fuzz-key"
CASES = Counter()


@pytest.fixture(scope="module")
def fuzz_server(guide_model, tmp_path_factory):
    """Its own server: no rate limit to get in the way, a key to send; and, to cover those paths
    too, the model loaded from its folder by path and served int8-quantised."""

    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    args = ["--rate-limit", 1_000_000, "--model", guide_model_dir(), "--int8"]
    with running_server(*args, env={"GUIDE_API_KEYS": KEY}, log=log, ready_within=READY_WITHIN) as base:
        yield base


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")


@pytest.fixture(scope="module")
def graphql_schema(fuzz_server):
    """The GraphQL schema, from its SDL: the server answers no introspection query."""
    return schemathesis.graphql.from_file(str(graphql_router().schema))


schema = schemathesis.pytest.from_fixture("api_schema")
graphql = schemathesis.pytest.from_fixture("graphql_schema")


@schema.parametrize()
@settings(max_examples=90, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_gets_a_server_error(case):
    response = case.call(headers={"X-API-Key": KEY}, timeout=30)
    CASES[case.operation.label] += 1
    assert response.status_code < 500, f"{case.operation.label} -> {response.status_code}: {response.text[:300]}"


@graphql.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_graphql_query_gets_a_server_error(case, fuzz_server):
    response = case.call(base_url=f"{fuzz_server}/graphql", headers={"X-API-Key": KEY}, timeout=30)
    CASES[f"GraphQL {case.operation.label}"] += 1
    assert response.status_code < 500, f"{case.body} -> {response.status_code}: {response.text[:300]}"


def test_the_fuzzed_server_serves_the_quantised_model_from_its_folder(fuzz_server):
    assert httpx.get(f"{fuzz_server}/ready").json() == {
        "status": "ready",
        "model": str(guide_model_dir()),
        "int8": True,
    }


def test_the_fuzzer_sent_at_least_200_requests():
    assert sum(CASES.values()) >= 200, CASES
    assert {"POST /v1/generate", "POST /v1/generate/stream", "POST /v1/classify"} <= set(CASES), CASES
    assert {"GraphQL Query.generate", "GraphQL Query.classify"} <= set(CASES), CASES
