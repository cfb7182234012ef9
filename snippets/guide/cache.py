"""One build cache for what the examples train once and then reuse: the guide's model (Step 3)
and the reward model (Step 5).

A build is a folder with a ``build-key.txt``: a hash of everything the build reads (its code,
its data, the model it starts from, its settings). ``cached_build`` returns the folder when the
key matches, and otherwise builds again into a temporary folder beside it and renames it into
place, so an interrupted build never leaves a half-written folder where the next run would load
it, and no example runs on a model made by older code or data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from guide.errors import GuideError

KEY_FILE = "build-key.txt"


def build_key(*inputs) -> str:
    """A short hash of every input: a Path by its bytes (and name), anything else by its JSON."""
    digest = hashlib.sha256()
    for item in inputs:
        if isinstance(item, Path):
            digest.update(item.name.encode() + b"\0" + item.read_bytes())
        else:
            digest.update(json.dumps(item, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def stored_key(folder: str | os.PathLike) -> str | None:
    """The key a folder was built with, or None (no build there, or an unfinished one)."""
    try:
        return (Path(folder) / KEY_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def why_rebuild(folder: str | os.PathLike, key: str, what: str) -> str | None:
    """None when ``folder`` holds the build ``key`` names; else the reason, in words."""
    found = stored_key(folder)
    if found == key:
        return None
    if found is None:
        return f"{what} is not in {folder} yet"
    return f"{what} in {folder} was built from older code or data"


def save_atomically(folder: str | os.PathLike, write: Callable[[Path], None], key: str | None = None) -> Path:
    """Call ``write(tmp)`` on a temporary folder next to ``folder``, stamp it with ``key``, and
    rename it to ``folder``, replacing what was there. Nothing is left behind if ``write`` fails."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-building-", dir=folder.parent))
    try:
        write(tmp)
        if key is not None:
            (tmp / KEY_FILE).write_text(key + "\n", encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def cached_build(
    folder: str | os.PathLike,
    key: str,
    write: Callable[[Path], None],
    what: str,
    log: Callable[[str], None] = lambda msg: None,
    build_if_missing: bool = True,
    how_to_build: str = "",
) -> Path:
    """``folder`` built by ``write`` with inputs hashed to ``key``: reused when the key matches,
    built (atomically) when not. With ``build_if_missing=False`` a missing or stale build raises
    a GuideError that says ``how_to_build``."""
    folder = Path(folder)
    reason = why_rebuild(folder, key, what)
    if reason is None:
        return folder
    if not build_if_missing:
        raise GuideError(f"{reason}. {how_to_build}".strip())
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Two processes that need the same build at once (the test suite's workers): one builds, the
    # other waits for it and then finds it built, instead of replacing it while it is being read.
    with FileLock(folder.with_name(f".{folder.name}.lock")):
        reason = why_rebuild(folder, key, what)
        if reason is None:
            return folder
        log(f"{reason}: building it now (only once)")
        return save_atomically(folder, write, key)
