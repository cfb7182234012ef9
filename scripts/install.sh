#!/usr/bin/env bash
# Install everything the guide, its site and its tests use into the active Python (use a fresh
# virtual environment: python3.11 -m venv .venv && . .venv/bin/activate), exactly as CI does:
#  1. torch first and exactly, with pip: a range or a newer release would pull a multi-GB CUDA
#     build, and pip finds the CPU build where a machine keeps one on disk (--find-links);
#  2. uv, the installer, pinned and hashed (requirements-uv.lock);
#  3. every other package at the version requirements.lock pins, checked against its hash,
#     installed by uv (seconds, where pip takes minutes for the same wheels); the lock is
#     resolved from the readable requirements.txt by scripts/lock.sh;
#  4. the guide's own examples (snippets/), editable, so they run from any folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python}"
"$PYTHON" -m pip install --quiet torch==2.13.0
"$PYTHON" -m pip install --quiet --no-deps --require-hashes -r requirements-uv.lock
uv_install() { "$PYTHON" -m uv pip install --quiet --python "$PYTHON" --no-deps "$@"; }
uv_install --require-hashes -r requirements.lock
uv_install -e .
"$PYTHON" -m pip check
