"""Test-suite set-up shared by everything `pytest` collects.

1. No hidden downloads: HF_HUB_OFFLINE=1 for this process and every example it starts, and
   pytest-socket (configured in pyproject.toml) refuses connections to anything but loopback.
2. The pages' code blocks are tests: the plugin tests/page_blocks.py collects them (the
   ``pythonpath`` setting in pyproject.toml puts tests/ on the path).
3. Tests marked ``gpu`` are skipped, with the reason, where PyTorch sees no CUDA device.
4. ``--update-outputs`` rewrites the outputs the pages show (docs/generated/) from this run
   instead of comparing them (the same as GUIDE_UPDATE_OUTPUTS=1; tests/recorded.py).
5. One thread per process (GUIDE_THREADS=1): the suite runs on two workers.
"""

from __future__ import annotations

import os

import pytest
import torch

pytest_plugins = ["page_blocks"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The suite runs on two workers (pytest-xdist), so each of them, and every example it starts,
# computes on one thread: two workers of two threads each on a 2-core machine take longer than
# one worker alone. The recorded outputs are made this way too (guide.machine's fingerprint
# counts the threads). Set before anything imports guide.runtime, which reads it once.
os.environ.setdefault("GUIDE_THREADS", "1")
from guide.runtime import set_threads  # noqa: E402 -- after GUIDE_THREADS is set: guide.runtime reads it on import

set_threads()


def pytest_addoption(parser):
    parser.addoption(
        "--update-outputs",
        action="store_true",
        help="rewrite docs/generated/ (what the pages show) from this run instead of comparing with it",
    )


def pytest_collection_modifyitems(config, items):
    cuda = False
    if any("gpu" in item.keywords for item in items):
        cuda = torch.cuda.is_available()
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU: runs in the GPU workflow (.github/workflows/gpu.yml)")
    for item in items:
        if "gpu" in item.keywords and not cuda:
            item.add_marker(skip_gpu)
