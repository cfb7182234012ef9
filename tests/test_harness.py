"""The harness itself: it must catch what it promises to catch."""

import json
import os
import re
import shutil
import socket
import textwrap

import pytest
from pytest_socket import SocketConnectBlockedError

import page_blocks
import recorded
from guide.timing import EXAMPLES, budget, hang_guard
from recorded import outputs_differ
from testing_utils import REPO


@pytest.mark.parametrize(
    "opener, expected",
    [
        ('```python title="snippets/x.py" hl_lines="2"', "```python"),
        ("```py", "```python"),
        ("```{ .python .annotate }", "```python"),
        ("~~~python", "```python"),
        ("````python3", "````python"),
        ("    ```shell", "    ```bash"),
        ("```text", "```text"),
    ],
)
def test_fence_tags_are_normalised(opener, expected):
    text = f"{opener}\nprint(1)\n{opener.strip()[0] * 3}\n"
    assert page_blocks.normalise_fences(text).splitlines()[0] == expected


def test_includes_are_expanded_like_the_site():
    expanded = page_blocks.expand_snippets('--8<-- "snippets/step2_architecture/attention.py:causal"')
    assert expanded.startswith("def causal_mask(n, device=None):")
    with pytest.raises(Exception, match="no_such_file"):
        page_blocks.expand_snippets('--8<-- "snippets/no_such_file.py"')


@pytest.fixture
def page(pytester):
    """A scratch project with our conftest and one page, docs/page.md, holding ``text``."""
    pytester.makeini("[pytest]\n")  # its own root folder, which the plugin collects pages from
    pytester.makeconftest((REPO / "conftest.py").read_text(encoding="utf-8"))
    (pytester.path / "docs").mkdir()

    def run(text):
        (pytester.path / "docs" / "page.md").write_text(text)
        return pytester.runpytest("docs", "-p", "no:socket")

    return run


def test_a_python_block_skipped_without_reason_fails_collection(page):
    result = page(
        textwrap.dedent("""
        <!--pytest.mark.skip-->
        ```python title="x.py"
        print("never runs")
        ```
    """)
    )
    assert "skipped without a reason" in result.stdout.str()
    assert result.ret != 0


def test_a_console_session_block_fails_collection(page):
    result = page("```pycon\n>>> 1 + 1\n2\n```\n")
    assert "cannot be run or checked" in result.stdout.str()
    assert result.ret != 0


def test_a_broken_block_on_a_page_fails(page):
    result = page("```py\nassert 1 + 1 == 3\n```\n\n```python\nx = 1\n```\n")
    result.assert_outcomes(passed=1, failed=1)


def test_a_pages_marks_are_read_as_literals_never_run(page, tmp_path):
    planted = tmp_path / "planted"
    skipped = page(
        '<!--pytest.mark.skip(reason="shown, not run: it needs a server")-->\n```python\nassert False\n```\n'
    )
    skipped.assert_outcomes(skipped=1)
    result = page(
        f'<!--pytest.mark.skipif(open({str(planted)!r}, "w").close(), reason="a mark that runs code")-->\n'
        "```python\nx = 1\n```\n"
    )
    assert "literal arguments only" in result.stdout.str() and result.ret != 0
    assert not planted.exists()  # the mark's code never ran


def test_update_outputs_is_a_flag_as_well_as_a_variable(pytester, monkeypatch):
    monkeypatch.delenv("GUIDE_UPDATE_OUTPUTS", raising=False)
    pytester.makeini("[pytest]\n")
    pytester.makeconftest((REPO / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(
        "from testing_utils import updating_outputs\n"
        "def test_flag(pytestconfig):\n    assert updating_outputs(pytestconfig)\n"
    )
    pytester.runpytest("--update-outputs", "-p", "no:socket").assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:socket").assert_outcomes(failed=1)  # the flag is the run's, not the process's
    assert "GUIDE_UPDATE_OUTPUTS" not in os.environ  # and the in-process runs left the environment alone
    monkeypatch.setenv("GUIDE_UPDATE_OUTPUTS", "1")
    pytester.runpytest("-p", "no:socket").assert_outcomes(passed=1)


def test_network_is_blocked_but_loopback_is_not():
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("93.184.215.14", 80), timeout=1)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    socket.create_connection(server.getsockname(), timeout=1).close()
    server.close()


def test_hub_is_offline():
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_output_drift_is_caught_but_timings_are_not():
    page = "loss 0.23 (4.5 s)\n  ' mat'  0.852\n"
    assert outputs_differ(page, "loss 0.23 (9.1 s)\n  ' mat'  0.852\n", strict=True) is None  # times
    assert outputs_differ(page, "loss 0.231 (4.5 s)\n  ' mat'  0.850\n") is None  # tolerance
    assert "0.852" in outputs_differ(page, "loss 0.23 (4.5 s)\n  ' mat'  0.850\n", strict=True)
    assert "0.852" in outputs_differ(page, "loss 0.23 (4.5 s)\n  ' mat'  0.412\n")
    assert "mat" in outputs_differ(page, "loss 0.23 (4.5 s)\n  ' rug'  0.852\n")


# --- the recorded outputs: strict on their own platform, by tolerance elsewhere --------------

RECORDED = "step2_attention"  # a real record the page shows


@pytest.fixture
def generated(tmp_path):
    """A copy of one real record (text + figures) in a scratch docs/generated/, its platform,
    and its printed text and figures as a fresh run on that platform would give them."""
    for suffix in (".txt", ".run.json"):
        shutil.copy(recorded.GENERATED / f"{RECORDED}{suffix}", tmp_path / f"{RECORDED}{suffix}")
    record = json.loads((tmp_path / f"{RECORDED}.run.json").read_text())
    text = (tmp_path / f"{RECORDED}.txt").read_text()
    return tmp_path, record["platform"], text, record["metrics"]


def _edit_first_digit(text: str) -> str:
    """The text with its first digit outside a time changed by one."""
    for m in re.finditer(r"\d", text):
        if not re.match(r"\d*\.?\d*\s*(ms|s)\b", text[m.start() :]):
            return text[: m.start()] + str((int(m.group()) + 1) % 10) + text[m.end() :]
    raise AssertionError("no digit to edit")


def test_the_record_matches_itself(generated):
    folder, platform, text, metrics = generated
    assert recorded.compare(RECORDED, text, metrics, platform, folder) == ("strict", None, None)


def test_a_number_edited_in_docs_generated_fails(generated):
    folder, platform, text, metrics = generated
    copy = folder / f"{RECORDED}.txt"
    copy.write_text(_edit_first_digit(copy.read_text()))
    how, problem, _ = recorded.compare(RECORDED, text, metrics, platform, folder)
    assert how == "strict" and problem and "the page shows" in problem


def test_a_figure_edited_in_a_run_record_fails(generated):
    folder, platform, text, metrics = generated
    record = json.loads((folder / f"{RECORDED}.run.json").read_text())
    key = next(k for k, v in record["metrics"].items() if isinstance(v, float))
    record["metrics"][key] += 1e-9  # the last digits
    (folder / f"{RECORDED}.run.json").write_text(json.dumps(record))
    how, problem, _ = recorded.compare(RECORDED, text, metrics, platform, folder)
    assert how == "strict" and problem and key in problem


@pytest.mark.parametrize("where", ["a digit", "a letter"])
def test_a_one_character_change_to_the_printed_output_fails(generated, where):
    folder, platform, text, metrics = generated
    if where == "a digit":
        changed = _edit_first_digit(text)
    else:
        i = next(i for i, c in enumerate(text) if c.isalpha())
        changed = text[:i] + ("x" if text[i] != "x" else "y") + text[i + 1 :]
    assert sum(a != b for a, b in zip(text, changed)) == 1
    how, problem, _ = recorded.compare(RECORDED, changed, metrics, platform, folder)
    assert how == "strict" and problem


def _scaled(tree, factor):
    """Every number in a metrics tree multiplied by ``factor``."""
    if isinstance(tree, dict):
        return {k: _scaled(v, factor) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_scaled(v, factor) for v in tree]
    return tree * factor if isinstance(tree, int | float) and not isinstance(tree, bool) else tree


def test_on_another_platform_last_digits_pass_and_real_changes_fail(generated):
    folder, platform, text, metrics = generated
    elsewhere = {**platform, "id": "another-cpu"}
    how, problem, exact = recorded.compare(RECORDED, text, _scaled(metrics, 1 + 1e-6), elsewhere, folder)
    assert (how, problem) == ("tolerant", None) and exact  # close enough, though not bit-identical
    assert recorded.compare(RECORDED, text.replace("a", "b", 1), metrics, elsewhere, folder)[1]
    assert recorded.compare(RECORDED, text, _scaled(metrics, 2), elsewhere, folder)[1]


def test_chaotic_runs_are_compared_only_on_their_own_platform(generated, monkeypatch):
    folder, platform, text, metrics = generated
    monkeypatch.setitem(recorded.VARIES_ACROSS_PLATFORMS, RECORDED, "a long sampled run")
    how, problem, _ = recorded.compare(RECORDED, "something else entirely", metrics, {**platform, "id": "x"}, folder)
    assert how.startswith("not compared") and "a long sampled run" in how and problem is None
    assert recorded.compare(RECORDED, "something else entirely", metrics, platform, folder)[1]


def test_every_record_names_its_platform():
    records = sorted(recorded.GENERATED.glob("*.run.json"))
    assert len(records) >= 30
    for path in records:
        platform = json.loads(path.read_text())["platform"]
        assert {"id", "cpu", "libc", "torch", "threads", "packages"} <= set(platform), path.name


# --- time: a benchmark with budgets in one place, never a pass/fail test ----------------------


def test_every_example_has_a_time_budget():
    listed = {e.script for e in EXAMPLES}
    scripts = {
        str(p.relative_to(REPO / "snippets"))
        for p in (REPO / "snippets").glob("step*/*.py")
        if "__main__" in p.read_text(encoding="utf-8")
    }
    assert scripts == listed, f"no budget: {sorted(scripts - listed)}; no script: {sorted(listed - scripts)}"


def test_the_hang_guard_is_far_past_the_budget():
    assert hang_guard("step5_alignment/rlhf.py") >= 10 * budget("step5_alignment/rlhf.py")
    assert budget("step7_deployment/benchmark.py", ("--batches", "1,16", "--per-client", "3")) < budget(
        "step7_deployment/benchmark.py"
    )
    with pytest.raises(KeyError, match="timing.py"):
        budget("step9_nowhere/x.py")


def test_no_test_asserts_wall_clock_time():
    pattern = re.compile(r"assert [^\n]*(seconds|startup_seconds|elapsed)\b[^\n]*[<>]")
    offenders = [
        f"{p.name}: {m.group()}"
        for p in sorted((REPO / "tests").glob("test_*.py"))
        if p.name != "test_harness.py"  # this test's own pattern
        for m in pattern.finditer(p.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders


# --- the environment: the lock pins what requirements.txt names, with hashes ------------------


def _pins(text: str) -> dict[str, str]:
    return {
        re.sub(r"[-_.]+", "-", m[0]).lower(): m[1]
        for m in re.findall(r"^([A-Za-z0-9][\w.-]*)==([^\s;\\#]+)", text, re.M)
    }


def test_the_lock_pins_every_requirement_at_its_version_with_hashes():
    wanted = _pins((REPO / "requirements.txt").read_text(encoding="utf-8"))
    lock_text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    locked = _pins(lock_text)
    wanted.pop("torch")  # installed first, exactly, from the index that has this machine's build
    assert "torch" not in locked and not any(n.startswith("nvidia-") for n in locked)
    assert {n: v for n, v in wanted.items() if locked.get(n) != v} == {}, "re-run bash scripts/lock.sh"
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock_text.split("\n", 2)[2])
    assert all("--hash=sha256:" in e for e in entries if "==" in e)
    assert len(locked) > len(wanted) + 50  # the dependencies of the dependencies too
    # scripts/install.sh installs the lock with uv, which is pinned and hashed too
    uv_lock = (REPO / "requirements-uv.lock").read_text(encoding="utf-8")
    assert list(_pins(uv_lock)) == ["uv"] and "--hash=sha256:" in uv_lock


def test_an_in_process_refusal_reads_as_the_command_line_would(refuses, monkeypatch, tmp_path):
    """The ``refuses`` fixture calls main() in this process: argparse's exit status and message
    come through, and an exception main() lets escape shows as the traceback Python would print,
    so a test that asserts "no traceback" still catches it."""
    import step6_evaluation.rag as rag  # noqa: PLC0415 -- the module whose main is replaced below

    proc = refuses("step6_evaluation/rag.py", "--k", "9", cwd=tmp_path)
    assert proc.returncode == 2 and "--k must be between 1 and 4" in proc.stderr
    monkeypatch.setattr(rag, "main", lambda argv: print(f"got {argv}") or 1 / 0)
    proc = refuses("step6_evaluation/rag.py", "--k", "9", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == "got ['--k', '9']\n"
    assert "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr
