"""What a recorded output depends on besides the code: the platform it was made on.

The same code, seeds and thread count print bit-identical numbers run after run on one machine.
Another CPU (its vector units, its maths library), another C library or another version of any
installed package may change the last bits of a float, and a long training run can grow that
into a different sample sentence. So every output the pages show is recorded with this
fingerprint, and compared strictly only where the fingerprint is the same (see
docs/contributing.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys
from functools import cache
from importlib.metadata import distributions
from pathlib import Path

import torch

from guide.runtime import THREADS

# CPU features that decide which kernels PyTorch, oneDNN, MKL and glibc's libm pick
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


def _cpu() -> dict:
    info = {"machine": platform.machine()}
    try:
        text = open("/proc/cpuinfo", encoding="utf-8").read()  # noqa: SIM115
    except OSError:
        return info | {"processor": platform.processor()}
    first = text.split("\n\n")[0]
    fields = dict(line.split(":", 1) for line in first.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    return info | {
        "vendor": fields.get("vendor_id", ""),
        "model": fields.get("model name", ""),
        "family/model/stepping": "/".join(fields.get(k, "?") for k in ("cpu family", "model", "stepping")),
        "isa": [f for f in ISA_FLAGS if f in flags],
    }


LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _packages() -> str:
    """A hash of the installed versions of torch and of every package requirements.lock names
    (tools installed beside them, such as uv, do not count): the environment, in 12 hex digits."""
    wanted = None
    if LOCK.exists():
        wanted = {_canonical(m) for m in re.findall(r"^([A-Za-z0-9][\w.-]*)==", LOCK.read_text(encoding="utf-8"), re.M)}
        wanted.add("torch")
    installed = {_canonical(d.metadata["Name"]): d.version for d in distributions() if d.metadata["Name"]}
    names = sorted(f"{n}=={v}" for n, v in installed.items() if wanted is None or n in wanted)
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]


@cache
def fingerprint() -> dict:
    """Everything known to change floating-point results, and an ``id`` that hashes it."""
    facts = {
        "cpu": _cpu(),
        "libc": " ".join(platform.libc_ver()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": min(THREADS, os.cpu_count() or 1),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "packages": _packages(),
    }
    facts["id"] = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]
    return facts


def describe(facts: dict | None = None) -> str:
    facts = facts or fingerprint()
    cpu = facts["cpu"]
    return (
        f"{cpu.get('model') or cpu.get('processor') or cpu['machine']} ({', '.join(cpu.get('isa', [])) or 'no ISA list'}), "
        f"{facts['threads']} thread{'s' * (facts['threads'] != 1)}, {facts['libc']}, Python {facts['python']}, torch {facts['torch']}, "
        f"packages {facts['packages']} [platform {facts['id']}]"
    )


if __name__ == "__main__":
    json.dump(fingerprint(), sys.stdout, indent=2)
    print()
