"""Fixtures that run each example the way a reader does and read what it reports.

``run_snippet("step2_architecture/attention.py")`` starts ``python snippets/...py --out DIR``
from a scratch folder outside the repository, with a timeout, forces the CPU so numbers match
the page, and returns its stdout, stderr, timing and the metrics files it wrote. Each test
module runs its example once (module-scoped fixture) and asserts on that one run.

Each example runs once per session: the session's run cache (GUIDE_RUN_CACHE, guide/runs.py)
replays a run whose code, data, arguments and platform are unchanged, to a test or a lab
alike. Set GUIDE_RUN_CACHE yourself to keep the cache between sessions.

``page_output`` compares what a run printed, and the figures it measured, with the copy the page
shows (docs/generated/; the rules are in tests/recorded.py). Set GUIDE_UPDATE_OUTPUTS=1 to
rewrite those copies from the fresh run instead (or pass ``--update-outputs``). Times are never asserted: each run's time is
printed next to its budget at the end (guide.timing), and only a hang fails.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from filelock import FileLock

import recorded
from guide.machine import describe, fingerprint
from guide.timing import hang_guard, table
from step7_deployment.loopback import running_server
from testing_utils import READY_WITHIN, REPO, SERVICE_KEYS, SERVICE_RATE_LIMIT, run_until_done, updating_outputs

# Each example's wall-clock time in this session, for the table at the end (guide.timing)
TIMES: dict[str, float] = {}
# For each recorded output this session compared: None when bit-identical, else the difference
IDENTICAL: dict[str, str | None] = {}


def pytest_configure(config):
    # One run cache per session, shared with every example and lab the session starts
    os.environ.setdefault("GUIDE_RUN_CACHE", tempfile.mkdtemp(prefix="guide-runs-"))


def pytest_collection_modifyitems(items):
    """The order the work is handed out in. On two workers, --dist loadscope gives each a whole
    module or page at a time (a module's example runs once, in a module fixture, and a page's
    blocks build on each other). pytest-xdist hands out the units with the most tests first;
    among units of the same size, the order collected here decides. (With
    --no-loadscope-reorder this order alone would decide; one clean-clone run with it took
    1106 s against 970 s without, so it is not on.) The order collected:

    1. the module that pre-trains the guide's model, which most of the others wait for;
    2. the modules that never use that model, so the other worker is busy meanwhile;
    3. the other modules, then the pages;
    4. the labs, each a unit of its own (pytest_xdist_make_scheduler below), so both workers
       share them; Lab 5 first, as it alone trains a variant no test runs (plain DPO). By then
       the examples they call have run, so the labs replay those runs. (Whichever of a lab and
       its example's test asks first runs the example; the other replays it.)"""
    uses_model = {item.path for item in items if "guide_model" in getattr(item, "fixturenames", ())}

    def rank(item):
        if item.path.name == "test_labs.py":
            return (4, "[step5_lab]" not in item.name)
        if item.path.name == "test_step3_pretrain.py":
            return (1, False)
        return (3 if item.path in uses_model or item.path.suffix == ".md" else 2, False)

    items.sort(key=rank)  # stable: within a rank, the collection order


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent with -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    """--dist loadscope, except that each lab is a unit of its own (see above)."""
    if config.getvalue("dist") != "loadscope":
        return None  # another --dist asked for: pytest-xdist's own
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 -- pytest-xdist is optional

    class LabsApart(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if nodeid.startswith("tests/test_labs.py::") else super()._split_scope(nodeid)

    return LabsApart(config, log)


def _cache_log() -> list[dict]:
    path = Path(os.environ["GUIDE_RUN_CACHE"]) / "log.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@dataclass
class SnippetRun:
    stdout: str
    stderr: str
    out: Path
    seconds: float

    def figures(self) -> dict | None:
        """What the run measured, for the record beside its output: the one metrics file it
        wrote (or {file stem: content} when it wrote several, None when it wrote none)."""
        files = sorted(self.out.glob("*.json"))
        loaded = {f.stem: json.loads(f.read_text(encoding="utf-8")) for f in files}
        return next(iter(loaded.values())) if len(loaded) == 1 else (loaded or None)

    def metrics(self, name: str) -> dict:
        path = self.out / f"{name}.json"
        assert path.exists(), f"the example did not write {path.name}; stderr:\n{self.stderr[-2000:]}"
        return json.loads(path.read_text(encoding="utf-8"))


EXAMPLE_ENV = {"GUIDE_DEVICE": "cpu"}  # every example runs on the CPU, so numbers match the page; --device still wins


def run_example(
    path: str,
    *args: str,
    cwd: Path,
    timeout: float | None = None,
    expect_ok: bool = True,
    env: dict | None = None,
    launcher: tuple[str, ...] = (),
    done: Path | None = None,
) -> subprocess.CompletedProcess:
    """``python [launcher...] snippets/<path> args...``; ``launcher`` is e.g. ("-m",
    "torch.distributed.run", "--nproc_per_node=2") for the multi-process examples. ``timeout``
    defaults to the example's hang guard (guide.timing): a test fails on time only when the
    example hangs; its time goes into the table printed at the end of the run. ``done`` names
    the file an example writes when its work is over: still running ``DONE_GRACE_S`` after it
    appears, the run counts as hung at exit and is stopped then, not at the timeout."""
    script = REPO / "snippets" / path
    full_env = {**os.environ, **EXAMPLE_ENV, "PYTHONUNBUFFERED": "1", **(env or {})}
    command = [sys.executable, *launcher, str(script), *args]
    timeout = timeout or hang_guard(path, args)
    start, logged = time.perf_counter(), len(_cache_log())
    try:
        if done is None:
            proc = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
        else:
            proc = run_until_done(command, cwd, full_env, timeout, done)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"`python snippets/{path}` still ran after {timeout:.0f} s, far past its time budget "
            "(snippets/guide/timing.py): it hangs",
            pytrace=False,
        )
    if proc.returncode == 0:
        replayed = [e for e in _cache_log()[logged:] if e["hit"] and e["script"] == path]  # not the other worker's
        # a replayed run's time is the time of the run it replays
        TIMES[run_name(path, args)] = replayed[-1]["seconds"] if replayed else time.perf_counter() - start
    if expect_ok and proc.returncode != 0:
        pytest.fail(
            f"`python {' '.join([*launcher, f'snippets/{path}', *args])}` exited {proc.returncode}:\n"
            f"{proc.stderr[-3000:]}",
            pytrace=False,
        )
    return proc


def refusal(path: str, *args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python snippets/<path> args...`` for a run that should refuse its input, called in this
    process: the example's ``main(args)``, with its stdout, stderr and exit status captured as the
    command line would show them (argparse's status 2, cli.command's status 1, and for any other
    exception the traceback Python would print). What a reader sees, without the ten seconds a
    fresh interpreter spends importing torch, transformers and TRL. Runs that should succeed, and
    the multi-process ones, go through run_example."""
    module = importlib.import_module(".".join(Path(path).with_suffix("").parts))
    stdout, stderr, status = io.StringIO(), io.StringIO(), 0
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        for name, value in {**EXAMPLE_ENV, **(env or {})}.items():
            patch.setenv(name, value)
        patch.setattr(sys, "argv", [str(REPO / "snippets" / path), *args])
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                module.main(list(args))
            except SystemExit as exit_:  # what the interpreter does with it
                if isinstance(exit_.code, str):
                    print(exit_.code, file=sys.stderr)
                status = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
            except Exception:  # noqa: BLE001 -- a bare traceback is exactly what these tests look for
                traceback.print_exc()
                status = 1
    return subprocess.CompletedProcess([sys.executable, path, *args], status, stdout.getvalue(), stderr.getvalue())


# Options whose values are this run's folders, URLs or keys: they do not name the run
UNLISTED = {"--out", "--save", "--url", "--key", "--model", "--reward-model", "--corpus"}


def run_name(path: str, args) -> str:
    """The run's name in the timing table: the script and the options that change what it does."""
    kept, args = [], list(args)
    while args:
        arg = args.pop(0)
        if arg in UNLISTED:
            args = args[1:]
        else:
            kept.append(arg)
    return " ".join([path, *kept])


def pytest_sessionfinish(session):
    # A pytest-xdist worker hands what it measured to the main process, which prints the summary
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["guide"] = json.dumps({"times": TIMES, "identical": IDENTICAL})


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent with -p no:xdist
def pytest_testnodedown(node, error):
    measured = json.loads(getattr(node, "workeroutput", {}).get("guide", "{}"))
    TIMES.update(measured.get("times", {}))
    IDENTICAL.update(measured.get("identical", {}))


def pytest_terminal_summary(terminalreporter):
    """Every example's time next to its budget, and artifacts/timings.json for guide.timing."""
    runs = _cache_log()
    if runs:
        terminalreporter.section("run cache (guide/runs.py)")
        replayed = sum(e["hit"] for e in runs)
        terminalreporter.write(
            f"{len(runs) - replayed} example runs, {replayed} replays of them ({os.environ['GUIDE_RUN_CACHE']})\n"
        )
        for e in runs:
            if e["hit"]:
                terminalreporter.write(f"  replayed: {' '.join([e['script'], *e['args']])}\n")
    if not TIMES:
        return
    terminalreporter.section("example times against their budgets (snippets/guide/timing.py)")
    terminalreporter.write(f"on {describe()}; speed is never a pass/fail test\n\n{table(TIMES)}")
    path = REPO / "artifacts" / "timings.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"seconds": TIMES}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if IDENTICAL:
        same = sorted(k for k, v in IDENTICAL.items() if v is None)
        terminalreporter.section("recorded outputs, compared digit for digit whatever the platform")
        terminalreporter.write(f"{len(same)} of {len(IDENTICAL)} bit-identical to docs/generated/\n")
        for name, problem in sorted(IDENTICAL.items()):
            if problem:
                terminalreporter.write(f"  {name}: {problem}\n")
        (REPO / "artifacts" / "identical.json").write_text(json.dumps(IDENTICAL, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def example():
    """run_example itself, for tests that need a run with other options or a failing one."""
    return run_example


@pytest.fixture(scope="session")
def refuses():
    """refusal itself: a run that should refuse bad input, checked in this process."""
    return refusal


@pytest.fixture(scope="session")
def guide_model(tmp_path_factory) -> SnippetRun:
    """Pre-train the guide's model once per session, exactly as a reader does
    (python snippets/step3_pretraining/pretrain.py), and point GUIDE_MODEL_DIR at it so every
    later example that needs the model loads this one instead of building its own. The
    pytest-xdist workers share it (and the reward model Step 5 caches beside it): the first to
    ask builds it, the other waits for it."""
    root = tmp_path_factory.getbasetemp()
    out = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "guide"  # the session's, shared
    done = out.with_name("guide-run.json")  # what the build printed, for the worker that waited
    with FileLock(f"{out}.lock"):
        if not done.exists():
            out.mkdir(exist_ok=True)
            start = time.perf_counter()
            proc = run_example(
                "step3_pretraining/pretrain.py", "--save", str(out / "guide-model"), "--out", str(out), cwd=out
            )
            said = {"stdout": proc.stdout, "stderr": proc.stderr, "seconds": time.perf_counter() - start}
            done.write_text(json.dumps(said), encoding="utf-8")
        said = json.loads(done.read_text(encoding="utf-8"))
    os.environ["GUIDE_MODEL_DIR"] = str(out / "guide-model")
    return SnippetRun(said["stdout"], said["stderr"], out, said["seconds"])


@pytest.fixture(scope="module")
def run_snippet(tmp_path_factory):
    def run(path: str, *args: str, timeout: float | None = None) -> SnippetRun:
        out = tmp_path_factory.mktemp(Path(path).stem)
        start = time.perf_counter()
        proc = run_example(path, "--out", str(out), *args, cwd=out, timeout=timeout)
        return SnippetRun(proc.stdout, proc.stderr, out, time.perf_counter() - start)

    return run


@pytest.fixture(scope="module")
def instruction_model(run_snippet, guide_model, tmp_path_factory) -> Path:
    """The folder of Step 4's instruction-tuned model (instructions.py --save), which Step 6's
    injection and judge examples use. tests/test_step4_instructions.py asks for the same run,
    so the run cache trains it once and replays the saved model everywhere else."""
    save = tmp_path_factory.mktemp("instruction-model")
    run_snippet("step4_finetuning/instructions.py", "--save", str(save))
    return save


# --- keeping the page's copy of an output in step with the code ---------------------------


@pytest.fixture(scope="session")
def page_output(pytestconfig):
    """check(name, text, metrics=None): docs/generated/<name>.txt must match ``text`` and
    <name>.run.json the ``metrics`` the run wrote, as tests/recorded.py compares them: strictly
    on the platform that recorded them, by tolerance elsewhere. ``pytest --update-outputs`` (or
    GUIDE_UPDATE_OUTPUTS=1) rewrites both from this run (and this platform) instead."""

    def check(name: str, text: str, metrics: dict | None = None):
        platform = fingerprint()
        if updating_outputs(pytestconfig):
            recorded.write_record(name, text, metrics, platform)
            return
        how, problem, exact = recorded.compare(name, text, metrics, platform)
        # whatever the platform: is this run bit-identical to the record? (summary at the end)
        IDENTICAL[name] = exact
        if how.startswith("not compared"):
            pytest.skip(f"{name}: {how}")
        assert problem is None, (
            f"docs/generated/{name} (shown on the page) no longer matches what the example prints, "
            f"compared {how}ly ({'same platform' if how == 'strict' else 'another platform'}: {describe(platform)}): "
            f"{problem}.\nIf the change is intended, refresh the record: pytest --update-outputs"
        )

    return check


# --- Step 7: the service, as a real server on loopback ---------------------------------------


@pytest.fixture(scope="session")
def service(guide_model, tmp_path_factory):
    """app.py started once per session on a free 127.0.0.1 port (keys required, a rate limit),
    as an httpx client with the first key set. ``.startup_seconds``, ``.log_path``, ``.base``."""
    log = tmp_path_factory.mktemp("service") / "server.log"
    env = {"GUIDE_API_KEYS": ",".join(SERVICE_KEYS), **EXAMPLE_ENV}
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        try:
            base = stack.enter_context(
                running_server("--rate-limit", SERVICE_RATE_LIMIT, env=env, log=log, ready_within=READY_WITHIN)
            )
        except RuntimeError as err:
            pytest.fail(f"{err}:\n{log.read_text() if log.exists() else ''}")
        client = stack.enter_context(httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": SERVICE_KEYS[0]}))
        client.startup_seconds, client.log_path, client.base = time.perf_counter() - start, log, base
        TIMES["step7_deployment/app.py"] = client.startup_seconds  # to /ready
        yield client
