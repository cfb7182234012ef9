"""Step 7: the siege, every attack at once against the real server while /health is probed (a
benchmark: its times are reported, never asserted), and the recorded run the page shows."""

import json

import pytest

from step7_deployment.app import Settings
from step7_deployment.siege import ATTACKS, GUESSES, report
from testing_utils import GENERATED

RECORD = GENERATED / "step7_siege.json"


def held(result):
    """What a safe service does under the siege, whatever the machine's speed."""
    failed_key_limit = Settings().failed_key_limit
    for name, statuses in result["statuses"].items():
        assert set(statuses) <= set(result["expected"][name]), f"{name}: {statuses}"
        assert sum(statuses.values()) == result["rounds"], name
    # One caller with a new X-Forwarded-For on every request is still one address: its first
    # wrong keys get 401 and the rest 429. (Uvicorn's default trusts the header from
    # 127.0.0.1: every request was a new address, every answer a 401, and guessing was free.)
    forged = result["statuses"][GUESSES]
    assert forged == {"401": failed_key_limit, "429": result["rounds"] - failed_key_limit}
    assert result["graphql_tokens"] == 0  # the alias attack generated nothing
    assert result["health_seconds"] and all(t != float("inf") for t in result["health_seconds"])  # all 200s
    # 20 bodies of 20 MB each refused unread: one used to add 158 MiB to the server
    assert result["memory_mib"]["grown"] < 50


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step7_deployment/siege.py")


def test_the_service_holds_under_the_siege(run):
    result = run.metrics("siege")
    assert result["rounds"] == 20 and set(result["statuses"]) == set(ATTACKS)
    held(result)
    assert run.stdout == report(result)


def test_the_page_shows_a_real_run_in_which_the_service_held():
    result = json.loads(RECORD.read_text(encoding="utf-8"))
    assert (GENERATED / "step7_siege.txt").read_text(encoding="utf-8") == report(result), (
        "docs/generated/step7_siege.txt is not the report of step7_siege.json: rerun "
        "python snippets/step7_deployment/siege.py --page"
    )
    held(result)
    # what the page says of the recorded run: the first draft's pattern grew with the square
    # of its input (4 times the text, at least 8 times the time), the guide's did not
    first, guide = result["regex_seconds"]["first draft"], result["regex_seconds"]["the guide's"]
    assert result["sizes"][-1] == 4 * result["sizes"][0]
    assert first[-1] > 8 * first[0] and guide[-1] < 8 * guide[0] and guide[-1] < first[-1] / 100


def test_a_bad_rounds_says_why(refuses, tmp_path):
    proc = refuses("step7_deployment/siege.py", "--rounds", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "--rounds must be between 1 and 1000" in proc.stderr
