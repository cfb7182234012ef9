"""Step 7: the client tour the page shows: every route over HTTP, and every refusal."""

from testing_utils import SERVICE_KEYS


def test_the_tour_of_a_fresh_server(run_snippet, guide_model, page_output):
    run = run_snippet("step7_deployment/client.py")
    page_output("step7_client", run.stdout, run.figures())
    out = run.stdout
    assert "POST /v1/generate -> 200" in out and "joined, they are the answer above: True" in out
    assert "no API key -> 401" in out and "max_new_tokens 1000 -> 422" in out and "300-token prompt -> 422" in out
    assert "broken JSON -> 422" in out and "429, 429]" in out
    assert "[NAME] [NAME] ([EMAIL], [PHONE])" in out and "mara.lane@example.org" not in out.split("log line")[1]
    log = (run.out / "server.log").read_text()
    assert "mara.lane@example.org" not in log and "7946" not in log


def test_the_tour_of_a_running_server(run_snippet, service):
    run = run_snippet("step7_deployment/client.py", "--url", service.base, "--key", SERVICE_KEYS[4])
    assert "GET /ready -> 200" in run.stdout and "POST /graphql -> 200" in run.stdout
    assert "-> [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]" in run.stdout  # within this limit
