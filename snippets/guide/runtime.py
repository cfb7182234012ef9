"""Device choice, seeding and metrics files, shared by every example.

Kept tiny on purpose: a reader should be able to read the whole file in a minute.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from guide.errors import GuideError


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return CUDA, then Apple's MPS, then CPU, whichever exists first.

    ``prefer`` (or the ``GUIDE_DEVICE`` environment variable) forces a choice; the tests use
    ``GUIDE_DEVICE=cpu`` so that printed numbers match the page on every machine.
    """
    if isinstance(prefer, torch.device):
        return prefer
    name = prefer or os.environ.get("GUIDE_DEVICE")
    if name:
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise GuideError(
                f"device {name!r} was asked for but PyTorch sees no CUDA GPU; unset GUIDE_DEVICE or pass --device cpu"
            )
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# Threads can change floating-point results: a sum split over 4 threads adds in another order
# than one split over 2. Every example runs on this many, so a 16-core laptop prints what CI
# prints. One, because the test suite runs two workers side by side on CI's two cores, and the
# pages show what the suite ran.
THREADS = int(os.environ.get("GUIDE_THREADS", "1"))


def set_threads(n: int | None = None) -> int:
    """Use ``n`` (default: $GUIDE_THREADS, else 1) intra-op threads, never more than the machine
    has. Returns the number set."""
    n = min(n or THREADS, os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def trainer_device_args(device: torch.device | str | None = None) -> dict:
    """The TrainingArguments (and TRL config) keys that put a Trainer on ``device``, which
    defaults to ``pick_device()``, so GUIDE_DEVICE and --device reach Trainer-based examples too.
    A Trainer otherwise picks the GPU by itself whenever one exists."""
    device = torch.device(device) if device is not None else pick_device()
    return {"use_cpu": device.type == "cpu", "dataloader_pin_memory": False}


def training_args(config_class=None, device: torch.device | str | None = None, **settings):
    """Arguments for a Trainer (``config_class`` defaults to TrainingArguments; pass TRL's
    RewardConfig, SFTConfig, DPOConfig or GRPOConfig for theirs), with the guide's defaults:
    a scratch output folder, no checkpoints, no reporting, no progress bar, seed 0, bf16 off
    (TRL turns it on by default, even on a CPU), on ``trainer_device_args(device)``. Every
    keyword in ``settings`` overrides a default; the examples pass only what they teach."""
    if config_class is None:
        from transformers import TrainingArguments as config_class  # noqa: PLC0415 -- conditional: only when no config class is passed
    defaults = {
        "output_dir": tempfile.mkdtemp(prefix="guide-trainer-"),
        "save_strategy": "no",
        "report_to": [],
        "seed": 0,
        "disable_tqdm": True,
        "bf16": False,
        **trainer_device_args(device),
    }
    return config_class(**(defaults | settings))


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so the same machine prints the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# Where the pages' recorded outputs live: a benchmark run by hand writes its record here (--page)
GENERATED = Path(__file__).resolve().parents[2] / "docs" / "generated"


def write_report(record: dict, text: str, out: str | os.PathLike | None, name: str, page: str | None = None) -> None:
    """A run recorded by hand: ``record`` as ``<name>.json`` and its report ``text`` as
    ``<name>.txt`` in ``out``, and, when ``page`` names the record, as ``<page>.json`` and
    ``<page>.txt`` in docs/generated/ for the page that shows it."""
    for folder, stem in ((out, name), (page and GENERATED, page)):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            (Path(folder) / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            (Path(folder) / f"{stem}.txt").write_text(text, encoding="utf-8")


def write_metrics(out_dir: str | os.PathLike | None, name: str, metrics: dict) -> Path | None:
    """Write ``metrics`` as ``<out_dir>/<name>.json`` (the tests read this file)."""
    if out_dir is None:
        return None
    path = Path(out_dir) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
