"""The run cache: each example runs once per test session, and every later call replays it.

The tests run an example as a reader does (``python snippets/<step>/<name>.py --out DIR``); the
labs call the same example's ``main()``. With ``GUIDE_RUN_CACHE`` set to a folder (the test
suite sets one per session), ``guide.cli.command`` looks the run up there first:

* the **key** hashes everything the run depends on: the example's own module and every
  first-party module it imports, directly or not (found by grimp, import-linter's engine), the
  guide's data files, the arguments (a path among them by its contents), the guide's model
  (its build key), the settings that change numbers (GUIDE_DEVICE, GUIDE_THREADS) and the
  platform (guide.machine). Where the output folders (``--out``, ``--save``) are is left out:
  it says where, not what; which of them were asked for is in.
* on a **miss** the example runs, and what it printed (stdout and stderr) and the files it
  wrote to its output folders are stored under the key;
* on a **hit** they are replayed: the same text printed, the same files written to the output
  folders given this time.

A change to any input is a new key, so nothing stale is ever replayed. Failed runs are not
stored. Without ``GUIDE_RUN_CACHE`` nothing is cached: a reader's run is always a real one.
Processes that share a cache (the suite's two workers) take a lock per key, so when both ask
for the same run at once, one runs it and the other waits and replays it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

from filelock import FileLock

from guide.cache import build_key, save_atomically, stored_key
from guide.machine import fingerprint
from guide.model import guide_model_dir

SNIPPETS = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.name for p in SNIPPETS.iterdir() if (p / "__init__.py").exists())
ENVIRONMENT = ("GUIDE_DEVICE", "GUIDE_THREADS")


def cache_dir() -> Path | None:
    folder = os.environ.get("GUIDE_RUN_CACHE")
    return Path(folder) if folder else None


def module_name(path: str | os.PathLike) -> str:
    """snippets/step4_finetuning/classify.py -> step4_finetuning.classify"""
    parts = Path(path).resolve().relative_to(SNIPPETS).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(module: str) -> list[Path]:
    """The module's file and the files of every first-party module it imports, however deep."""
    import grimp  # noqa: PLC0415 -- optional: a test tool, not in the service image; only the run cache uses it

    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    names = {module} | graph.find_upstream_modules(module)
    files = []
    for name in sorted(names):
        path = SNIPPETS.joinpath(*name.split("."))
        files.append(path / "__init__.py" if path.is_dir() else path.with_suffix(".py"))
    return files


def _contents(path: Path) -> list:
    """A path argument by what it holds: a file's bytes, a folder's files (names and bytes)."""
    if path.is_file():
        return [path]
    return [item for f in sorted(path.rglob("*")) if f.is_file() for item in (str(f.relative_to(path)), f)]


OUTPUTS = ("--out", "--save")  # folders a run writes to: stored on a miss, written again on a hit


def split_outputs(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """(the arguments without the output folders, {"--out": DIR, ...})."""
    rest, outputs, i = [], {}, 0
    while i < len(argv):
        option, _, value = argv[i].partition("=")
        if option in OUTPUTS and value:
            outputs[option], i = value, i + 1
        elif argv[i] in OUTPUTS and i + 1 < len(argv):
            outputs[argv[i]], i = argv[i + 1], i + 2
        else:
            rest.append(argv[i])
            i += 1
    return rest, outputs


def run_key(module_file: str | os.PathLike, argv: list[str]) -> str:
    args, outputs = split_outputs(argv)
    # which output folders were asked for (not where): a run stored without --save has no
    # saved model to replay into a later run's --save
    inputs: list = [module_name(module_file), *source_files(module_name(module_file)), sorted(outputs)]
    inputs += [f for f in sorted((SNIPPETS / "data").rglob("*")) if f.is_file()]
    for arg in args:
        path = Path(arg).expanduser()
        inputs += [arg, *_contents(path)] if path.exists() else [arg]
    inputs.append({name: os.environ.get(name) for name in ENVIRONMENT})
    inputs.append({"guide model": stored_key(guide_model_dir()), "platform": fingerprint()["id"]})
    return build_key(*inputs)


class _Tee(io.TextIOBase):
    """Write to the stream as usual and keep a copy."""

    def __init__(self, stream):
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text):
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return False


def _snapshot(folder: Path | None) -> dict:
    if folder is None or not folder.exists():
        return {}
    return {f: (f.stat().st_mtime_ns, f.stat().st_size) for f in folder.rglob("*") if f.is_file()}


def _log(entry: dict) -> None:
    with open(cache_dir() / "log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def cached(main, module_file: str | os.PathLike, argv: list[str]):
    """Run ``main(argv)`` through the cache (see the module's docstring)."""
    folder = cache_dir()
    if folder is None or not Path(module_file).resolve().is_relative_to(SNIPPETS):
        return main(argv)  # no cache asked for, or not one of the guide's examples
    key = run_key(module_file, argv)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / f"{key}.lock"):
        return _run_or_replay(main, module_file, argv, folder, key)


def _run_or_replay(main, module_file, argv, folder: Path, key: str):
    args, outputs = split_outputs(argv)
    entry = folder / key
    said = {"script": str(Path(module_file).resolve().relative_to(SNIPPETS)), "args": args, "key": key}
    if (entry / "meta.json").exists():
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        sys.stdout.write((entry / "stdout.txt").read_text(encoding="utf-8"))
        sys.stderr.write((entry / "stderr.txt").read_text(encoding="utf-8"))
        for option, target in outputs.items():
            if (entry / option).exists():
                shutil.copytree(entry / option, target, dirs_exist_ok=True)
        _log({**said, "hit": True, "seconds": meta["seconds"]})
        return None
    before = {option: _snapshot(Path(target)) for option, target in outputs.items()}
    stdout, stderr = _Tee(sys.stdout), _Tee(sys.stderr)
    start = time.perf_counter()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        result = main(argv)
    seconds = time.perf_counter() - start

    def write(tmp: Path) -> None:
        (tmp / "stdout.txt").write_text(stdout.copy.getvalue(), encoding="utf-8")
        (tmp / "stderr.txt").write_text(stderr.copy.getvalue(), encoding="utf-8")
        for option, target in outputs.items():
            for f, stamp in _snapshot(Path(target)).items():
                if before[option].get(f) != stamp:  # written by this run (a shared --out holds others' files)
                    copy = tmp / option / f.relative_to(target)
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, copy)
        (tmp / "meta.json").write_text(json.dumps({**said, "seconds": seconds}, indent=1) + "\n", encoding="utf-8")

    save_atomically(entry, write)
    _log({**said, "hit": False, "seconds": seconds})
    return result
