"""What the tests share besides fixtures: the repository's paths, the service's test keys, a
headless browser, and whether this run refreshes the recorded outputs. Test modules import it
(``from testing_utils import REPO``); the fixtures live in conftest.py."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from guide.timing import hang_guard
from recorded import GENERATED, REPO

__all__ = [
    "GENERATED",
    "READY_WITHIN",
    "REPO",
    "SERVICE_KEYS",
    "SERVICE_RATE_LIMIT",
    "chromium",
    "refused",
    "updating_outputs",
]

# The keys and the rate limit the session's server (the ``service`` fixture) starts with
SERVICE_KEYS = ("test-key", "burst-key", "batch-key", "browser-key", "client-key")
SERVICE_RATE_LIMIT = 60
# How long a test waits for a server to answer /ready: its hang guard, not a speed check
READY_WITHIN = hang_guard("step7_deployment/app.py")


def updating_outputs(config: pytest.Config) -> bool:
    """This run rewrites docs/generated/ instead of comparing with it: ``pytest
    --update-outputs`` (the option the root conftest.py adds), or GUIDE_UPDATE_OUTPUTS=1 in the
    environment. Read from the run's own config, so a pytest run inside this one (pytester)
    never switches it for the outer run."""
    return bool(config.getoption("update_outputs", default=False)) or os.environ.get("GUIDE_UPDATE_OUTPUTS") == "1"


def refused(proc, message: str) -> None:
    """An example refused bad input as a reader should see it: a non-zero exit status, the line
    that says what to do on stderr, and no traceback."""
    assert proc.returncode != 0, f"the example accepted the bad input:\n{proc.stdout[-1000:]}"
    assert message in proc.stderr, f"expected {message!r} on stderr, got:\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]


# --- a real browser: Debian's Chromium, driven by Playwright, never downloaded -------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextlib.contextmanager
def chromium():
    """A headless Chromium (Playwright's Browser); skips the test where none is installed,
    fails it on CI, where .ci/run installs one."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("CI must provide Debian's chromium (.ci/run installs it)")
        pytest.skip("needs Chromium for the browser test: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


DONE_GRACE_S = 20  # a clean exit takes a second or two once the work is written


def run_until_done(command, cwd, env, timeout, done: Path) -> subprocess.CompletedProcess:
    """subprocess.run for a command that can hang at exit after its work is done (DDP ranks,
    pytorch/pytorch#75097): output goes to files (a full pipe would block it), and the whole
    process group is killed at the timeout, or DONE_GRACE_S after ``done`` appears."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err, text=True, start_new_session=True)
        start, finished = time.perf_counter(), None
        while child.poll() is None:
            now = time.perf_counter()
            finished = finished or (now if done.exists() else None)
            if now - start > timeout or (finished and now - finished > DONE_GRACE_S):
                os.killpg(child.pid, 9)
                child.wait()
                raise subprocess.TimeoutExpired(command, now - start)
            time.sleep(0.5)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, child.returncode, out.read(), err.read())
