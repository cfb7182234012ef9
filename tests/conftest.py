"""Fixtures that run each example the way a reader does and read what it reports.

``run_snippet("step2_architecture/attention.py")`` starts ``python snippets/...py --out DIR``
from a scratch folder outside the repository, with a timeout, forces the CPU so numbers match
the page, and returns its stdout, stderr, timing and the metrics files it wrote. Each test
module runs its example once (module-scoped fixture) and asserts on that one run.

``page_output`` compares what a run printed with the copy the page shows (docs/generated/).
Set GUIDE_UPDATE_OUTPUTS=1 to rewrite those copies from the fresh run instead.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "docs" / "generated"
# Time budgets are set for the 2-core machine that runs CI. Runners with other CPUs (the GPU
# workflow's) scale them with GUIDE_TIME_SCALE instead of editing the tests.
TIME_SCALE = float(os.environ.get("GUIDE_TIME_SCALE", "1"))


@dataclass
class SnippetRun:
    stdout: str
    stderr: str
    out: Path
    seconds: float

    def metrics(self, name: str) -> dict:
        path = self.out / f"{name}.json"
        assert path.exists(), f"the example did not write {path.name}; stderr:\n{self.stderr[-2000:]}"
        return json.loads(path.read_text(encoding="utf-8"))


def run_example(
    path: str,
    *args: str,
    cwd: Path,
    timeout: float = 120,
    expect_ok: bool = True,
    env: dict | None = None,
    launcher: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """``python [launcher...] snippets/<path> args...``; ``launcher`` is e.g. ("-m",
    "torch.distributed.run", "--nproc_per_node=2") for the multi-process examples."""
    script = REPO / "snippets" / path
    # GUIDE_DEVICE=cpu so numbers match the page; a --device option still wins
    full_env = {**os.environ, "GUIDE_DEVICE": "cpu", "PYTHONUNBUFFERED": "1", **(env or {})}
    command = [sys.executable, *launcher, str(script), *args]
    proc = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if expect_ok and proc.returncode != 0:
        pytest.fail(
            f"`python {' '.join([*launcher, f'snippets/{path}', *args])}` exited {proc.returncode}:\n"
            f"{proc.stderr[-3000:]}",
            pytrace=False,
        )
    return proc


@pytest.fixture(scope="session")
def example():
    """run_example itself, for tests that need a run with other options or a failing one."""
    return run_example


@pytest.fixture(scope="session")
def guide_model(tmp_path_factory) -> SnippetRun:
    """Pre-train the guide's model once per session, exactly as a reader does
    (python snippets/step3_pretraining/pretrain.py), and point GUIDE_MODEL_DIR at it so every
    later example that needs the model loads this one instead of building its own."""
    out = tmp_path_factory.mktemp("guide")
    start = time.perf_counter()
    proc = run_example(
        "step3_pretraining/pretrain.py", "--save", str(out / "guide-model"), "--out", str(out), cwd=out, timeout=240
    )
    os.environ["GUIDE_MODEL_DIR"] = str(out / "guide-model")
    return SnippetRun(proc.stdout, proc.stderr, out, time.perf_counter() - start)


@pytest.fixture(scope="module")
def run_snippet(tmp_path_factory):
    def run(path: str, *args: str, timeout: float = 120) -> SnippetRun:
        out = tmp_path_factory.mktemp(Path(path).stem)
        start = time.perf_counter()
        proc = run_example(path, "--out", str(out), *args, cwd=out, timeout=timeout)
        return SnippetRun(proc.stdout, proc.stderr, out, time.perf_counter() - start)

    return run


# --- keeping the page's copy of an output in step with the code ---------------------------

NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|\.\d+)")
# A time, or a ratio of times written with "×" (speed-ups), differs run to run
VOLATILE = re.compile(r"^\s*(?:(?:ms|s|sec|seconds|it/s|tokens/s)\b|×)")


def _tokens(text: str):
    """Split text into (kind, value, volatile) tokens; numbers followed by a time unit are
    volatile (wall-clock time differs run to run) and are not compared."""
    tokens, pos = [], 0
    for m in NUMBER.finditer(text):
        words = text[pos : m.start()].split()
        tokens += [("word", w, False) for w in words]
        volatile = bool(VOLATILE.match(text[m.end() : m.end() + 12]))
        tokens.append(("number", m.group(), volatile))
        pos = m.end()
    tokens += [("word", w, False) for w in text[pos:].split()]
    return tokens


def outputs_differ(page: str, fresh: str, rel_tol: float = 0.05, abs_tol: float = 1e-3) -> str | None:
    """None when ``fresh`` matches ``page``: same words, numbers within tolerance."""
    a, b = _tokens(page), _tokens(fresh)
    if len(a) != len(b):
        return f"the page has {len(a)} tokens, the fresh run printed {len(b)}"
    for (kind_a, val_a, vol), (kind_b, val_b, _) in zip(a, b):
        if kind_a != kind_b:
            return f"page has {val_a!r} where the run printed {val_b!r}"
        if kind_a == "word" and val_a != val_b:
            return f"page has {val_a!r} where the run printed {val_b!r}"
        if kind_a == "number" and not vol:
            x, y = float(val_a.replace(",", "")), float(val_b.replace(",", ""))
            if not math.isclose(x, y, rel_tol=rel_tol, abs_tol=abs_tol):
                return f"page shows {val_a} where the run printed {val_b}"
    return None


@pytest.fixture(scope="session")
def page_output():
    """check(name, text): the page's copy docs/generated/<name>.txt must match ``text``.
    ``always=True`` compares even under GUIDE_COMPARE_OUTPUTS=0 (the GPU tables)."""

    def check(name: str, text: str, always: bool = False):
        if not always and os.environ.get("GUIDE_COMPARE_OUTPUTS", "1") == "0":
            pytest.skip("GUIDE_COMPARE_OUTPUTS=0: the pages show the CPU workflow's runs, which that workflow checks")
        path = GENERATED / f"{name}.txt"
        if os.environ.get("GUIDE_UPDATE_OUTPUTS") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"{path.relative_to(REPO)} is missing: run GUIDE_UPDATE_OUTPUTS=1 pytest"
        problem = outputs_differ(path.read_text(encoding="utf-8"), text)
        assert problem is None, (
            f"{path.relative_to(REPO)} (shown on the page) no longer matches what the example "
            f"prints: {problem}.\nIf the change is intended, refresh it: GUIDE_UPDATE_OUTPUTS=1 pytest"
        )

    return check


# --- Step 7: the service, as a real server on loopback ---------------------------------------

SERVICE_KEYS = ("test-key", "burst-key", "batch-key", "browser-key", "client-key")
SERVICE_RATE_LIMIT = 60


@pytest.fixture(scope="session")
def service(guide_model, tmp_path_factory):
    """app.py started once per session on a free 127.0.0.1 port (keys required, a rate limit),
    as an httpx client with the first key set. ``.startup_seconds``, ``.log_path``, ``.base``."""
    import httpx

    from step7_deployment.benchmark import running_server

    log = tmp_path_factory.mktemp("service") / "server.log"
    env = {"GUIDE_API_KEYS": ",".join(SERVICE_KEYS), "GUIDE_DEVICE": "cpu"}
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        try:
            base = stack.enter_context(running_server("--rate-limit", SERVICE_RATE_LIMIT, env=env, log=log))
        except RuntimeError as err:
            pytest.fail(f"{err}:\n{log.read_text() if log.exists() else ''}")
        client = stack.enter_context(httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": SERVICE_KEYS[0]}))
        client.startup_seconds, client.log_path, client.base = time.perf_counter() - start, log, base
        yield client


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
    import shutil

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("CI must provide Debian's chromium (.ci/run installs it)")
        pytest.skip("needs Chromium for the browser test: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
