"""The run cache (guide/runs.py) replays an example only while nothing it depends on changed:
each example runs once per session, and a change to its code, to code it imports or to its
arguments runs it again. Checked on a copy of snippets/, with a cheap example."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guide.runs import run_key
from testing_utils import REPO

EXAMPLE = "step5_alignment/preferences.py"


@pytest.fixture
def copy(tmp_path):
    shutil.copytree(
        REPO / "snippets", tmp_path / "snippets", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return tmp_path


def command(root: Path, out: Path, *args: str) -> tuple[list[str], dict]:
    env = {**os.environ, "PYTHONPATH": str(root / "snippets"), "GUIDE_RUN_CACHE": str(root / "cache")}
    return [sys.executable, str(root / "snippets" / EXAMPLE), "--out", str(out), *args], env


def run(root: Path, *args: str) -> tuple[str, dict, dict]:
    """(stdout, the JSON it wrote, the cache's log entry for this run)."""
    out = Path(root) / f"out-{len(list(root.glob('out-*')))}"
    argv, env = command(root, out, *args)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=True)
    log = (root / "cache" / "log.jsonl").read_text().splitlines()
    return proc.stdout, json.loads((out / "preferences.json").read_text()), json.loads(log[-1])


def touch(path: Path) -> None:
    path.write_text(path.read_text() + "\n# an edit\n")


def test_a_run_is_replayed_until_its_code_or_arguments_change(copy):
    stdout, metrics, entry = run(copy)
    assert not entry["hit"]
    again = run(copy)
    assert again[2]["hit"] and again[:2] == (stdout, metrics)  # the same text, the same file

    touch(copy / "snippets" / "step7_deployment" / "privacy.py")  # code the example does not import
    assert run(copy)[2]["hit"]

    touch(copy / "snippets" / "guide" / "world.py")  # code it imports, through guide.world
    assert not run(copy)[2]["hit"]

    touch(copy / "snippets" / EXAMPLE)  # its own code
    assert not run(copy)[2]["hit"]


def test_the_key_covers_the_arguments_but_not_the_output_folder(tmp_path):
    script = REPO / "snippets" / "step6_evaluation" / "human_eval.py"
    plain = run_key(script, ["--out", str(tmp_path / "a")])
    assert run_key(script, ["--out", str(tmp_path / "b")]) == plain  # where the output goes: not a new run
    # whether a folder is asked for is: a run stored without --save has nothing to put in one
    assert run_key(script, ["--out", str(tmp_path / "a"), "--save", str(tmp_path / "m")]) != plain
    assert run_key(script, []) != plain
    judgements = tmp_path / "judgements.jsonl"
    judgements.write_text("{}\n")
    with_file = run_key(script, ["--judgements", str(judgements), "--out", str(tmp_path / "a")])
    assert with_file != plain
    judgements.write_text("{}\n{}\n")  # the same path, other contents
    assert run_key(script, ["--judgements", str(judgements), "--out", str(tmp_path / "a")]) != with_file


def test_two_processes_asking_at_once_run_it_once(copy):
    # the suite's two workers share one cache: the second waits for the first, then replays
    starts = [command(copy, copy / f"out-{i}") for i in range(2)]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) for argv, env in starts]
    stdouts = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    log = [json.loads(line) for line in (copy / "cache" / "log.jsonl").read_text().splitlines()]
    assert sorted(entry["hit"] for entry in log) == [False, True]
    assert stdouts[0] == stdouts[1]
    assert (copy / "out-0" / "preferences.json").read_text() == (copy / "out-1" / "preferences.json").read_text()
