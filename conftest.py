"""Test-suite set-up shared by everything `pytest` collects.

1. No hidden downloads: HF_HUB_OFFLINE=1 for this process and every example it starts, and
   pytest-socket (configured in pyproject.toml) refuses connections to anything but loopback.
2. The pages' code blocks are tests: the plugin tests/page_blocks.py collects them (the
   ``pythonpath`` setting in pyproject.toml puts tests/ on the path).
3. Tests marked ``gpu`` are skipped, with the reason, where PyTorch sees no CUDA device.
4. ``--update-outputs`` rewrites the outputs the pages show (docs/generated/) from this run
   instead of comparing them (the same as GUIDE_UPDATE_OUTPUTS=1; tests/recorded.py).
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["page_blocks"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_addoption(parser):
    parser.addoption(
        "--update-outputs",
        action="store_true",
        help="rewrite docs/generated/ (what the pages show) from this run instead of comparing with it",
    )


_BEFORE_UPDATE = pytest.StashKey[str | None]()


def pytest_configure(config):
    # one switch for the fixtures and for anything they start (GUIDE_UPDATE_OUTPUTS=1 works too)
    if config.getoption("update_outputs"):
        config.stash[_BEFORE_UPDATE] = os.environ.get("GUIDE_UPDATE_OUTPUTS")
        os.environ["GUIDE_UPDATE_OUTPUTS"] = "1"


def pytest_unconfigure(config):
    # put the variable back: a run inside this process (pytester) must not leave its refresh on
    if _BEFORE_UPDATE in config.stash:
        before = config.stash[_BEFORE_UPDATE]
        if before is None:
            os.environ.pop("GUIDE_UPDATE_OUTPUTS", None)
        else:
            os.environ["GUIDE_UPDATE_OUTPUTS"] = before


def pytest_collection_modifyitems(config, items):
    cuda = False
    if any("gpu" in item.keywords for item in items):
        import torch

        cuda = torch.cuda.is_available()
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU: runs in the GPU workflow (.github/workflows/gpu.yml)")
    for item in items:
        if "gpu" in item.keywords and not cuda:
            item.add_marker(skip_gpu)
