"""Recorded outputs: what the pages show, the platform it was made on, and how a fresh run is
compared with it (docs/contributing.md explains the rules to contributors).

For every output a page shows, docs/generated/ holds two files from the same run:

* ``<name>.txt``: what the example printed (the page includes it);
* ``<name>.run.json``: ``{"platform": ..., "metrics": ...}``, the platform fingerprint
  (guide.machine) and the figures the example measured, which the prose renders
  (hooks/figures.py) instead of retyping them.

A fresh run is compared with the record:

* **on the platform that made it** (same fingerprint id): strictly. Every word and every digit
  must be the same; only wall-clock times are skipped. One changed character fails.
* **on another platform**: by tolerance. Words must match and numbers agree within 5%, which
  catches a change in the code and survives the last-bit differences of another CPU or library
  build. Outputs listed in ``VARIES_ACROSS_PLATFORMS`` are long chaotic runs whose samples
  differ there; they are not compared on other platforms (their tests still assert the effect).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "docs" / "generated"

# Long sampled runs: a last-bit difference in step 1 becomes a different sample by step 40, so
# their records only hold on the platform that made them.
VARIES_ACROSS_PLATFORMS = {
    "step5_rlhf": "60 steps of GRPO, each sampling 128 answers from the policy it just changed",
    "step5_rlhf_no_leash": "60 steps of GRPO, each sampling 128 answers from the policy it just changed",
    "step6_rag": "1,000 fine-tuning steps whose loss has a plateau: when it drops depends on the last bits",
    "step5_lab": "it runs the same 60 steps of GRPO as step5_rlhf, twice",
    # Not long, but discrete: the int8 kernels take another code path on each instruction set
    # (AVX2, AVX-512 VNNI, AMX), and one flipped token changes a whole greedy answer. Recorded on
    # AVX2, an AMX CPU agreed on 37 of the 48 answers where the record has 39.
    "step7_quantize": "int8 kernels differ by instruction set, and the share of identical greedy answers is a count of 48",
}

RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE = 0.05, 1e-3

NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|\.\d+)")
# A number followed by a time unit, or a ratio of times written with "×" (a speed-up), is a
# wall-clock measurement: it differs run to run and is never compared.
VOLATILE = re.compile(r"^\s*(?:(?:ms|s|sec|seconds|it/s|tokens/s|requests/s)\b|×)")
# The same for the metrics' keys. A build's "recipe" is a hash of the source that built it: any
# edit changes it, and the figures that source produced are compared anyway.
VOLATILE_KEY = re.compile(r"(seconds|_s$|_ms$|^ms$|latency|per_s|per_second|speedup|elapsed|^run$|^recipe$)", re.I)


def _tokens(text: str):
    """Split text into (kind, value, volatile) tokens."""
    tokens, pos = [], 0
    for m in NUMBER.finditer(text):
        tokens += [("word", w, False) for w in text[pos : m.start()].split()]
        tokens.append(("number", m.group(), bool(VOLATILE.match(text[m.end() : m.end() + 12]))))
        pos = m.end()
    tokens += [("word", w, False) for w in text[pos:].split()]
    return tokens


def _close(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def outputs_differ(page: str, fresh: str, strict: bool = False) -> str | None:
    """None when ``fresh`` matches ``page``; else what differs first. ``strict``: every digit."""
    a, b = _tokens(page), _tokens(fresh)
    if len(a) != len(b):
        return f"the page has {len(a)} tokens, the fresh run printed {len(b)}"
    for (kind_a, val_a, vol), (kind_b, val_b, _) in zip(a, b):
        if kind_a != kind_b or (kind_a == "word" and val_a != val_b):
            return f"the page has {val_a!r} where the run printed {val_b!r}"
        if kind_a == "number" and not vol and val_a != val_b:
            if strict or not _close(float(val_a.replace(",", "")), float(val_b.replace(",", ""))):
                return f"the page shows {val_a} where the run printed {val_b}"
    return None


def figures_differ(recorded, fresh, strict: bool = False, where: str = "") -> str | None:
    """None when two metrics trees agree: same keys and strings, numbers equal (``strict``) or
    within tolerance; wall-clock keys are skipped."""
    if isinstance(recorded, dict) and isinstance(fresh, dict):
        if set(recorded) != set(fresh):
            return f"{where or 'the metrics'} have keys {sorted(set(recorded) ^ set(fresh))} on one side only"
        for key in recorded:
            if VOLATILE_KEY.search(str(key)):
                continue
            problem = figures_differ(recorded[key], fresh[key], strict, f"{where}.{key}" if where else str(key))
            if problem:
                return problem
        return None
    if isinstance(recorded, list) and isinstance(fresh, list):
        if len(recorded) != len(fresh):
            return f"{where} has {len(recorded)} items in the record, {len(fresh)} in the run"
        for i, (x, y) in enumerate(zip(recorded, fresh)):
            problem = figures_differ(x, y, strict, f"{where}[{i}]")
            if problem:
                return problem
        return None
    numbers = (int, float)
    if isinstance(recorded, numbers) and isinstance(fresh, numbers) and not isinstance(recorded, bool):
        same = recorded == fresh if strict else _close(recorded, fresh)
        return None if same else f"{where} is {recorded} in the record, {fresh} in the run"
    return None if recorded == fresh else f"{where} is {recorded!r} in the record, {fresh!r} in the run"


def _portable(value):
    """Metrics without the scratch folders a run happened to use."""
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    if isinstance(value, str) and value.startswith(("/tmp/", "/private/", os.path.expanduser("~/"))):
        return "<a folder of the run>"
    return value


def record_path(name: str) -> Path:
    return GENERATED / f"{name}.run.json"


def write_record(name: str, text: str, metrics: dict | None, platform: dict) -> None:
    GENERATED.mkdir(parents=True, exist_ok=True)
    (GENERATED / f"{name}.txt").write_text(text, encoding="utf-8")
    record = {"platform": platform, "metrics": _portable(metrics or {})}
    record_path(name).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")


class Comparison(NamedTuple):
    """How a fresh run was compared with its record, and what it found."""

    how: str  # "strict", "tolerant" or "not compared: <why>"
    problem: str | None  # the first difference under ``how``, or None
    exact: str | None  # the first difference at all (times aside), whatever the platform, or None


def compare(name: str, text: str, metrics: dict | None, platform: dict, folder: Path | None = None) -> Comparison:
    """Compare one run with docs/generated/<name>: strictly on the platform that recorded it, by
    tolerance elsewhere. ``exact`` says whether it is bit-identical anyway, for the suite's
    summary. ``folder`` replaces docs/generated/ (the harness's own tests)."""
    folder = folder or GENERATED
    page_copy, record = folder / f"{name}.txt", folder / f"{name}.run.json"
    if not page_copy.exists() or not record.exists():
        missing = f"{page_copy.name} or {record.name} is missing from docs/generated/"
        return Comparison("strict", missing, missing)
    recorded = json.loads(record.read_text(encoding="utf-8"))
    page_text, fresh = page_copy.read_text(encoding="utf-8"), _portable(metrics)

    def difference(strict: bool) -> str | None:
        problem = outputs_differ(page_text, text, strict=strict)
        if problem is None and metrics is not None:
            problem = figures_differ(recorded["metrics"], fresh, strict=strict)
        return problem

    exact = difference(strict=True)
    if recorded["platform"]["id"] == platform["id"]:
        return Comparison("strict", exact, exact)
    if name in VARIES_ACROSS_PLATFORMS:
        why = (
            f"not compared: recorded on platform {recorded['platform']['id']}, this is {platform['id']}, and "
            f"{VARIES_ACROSS_PLATFORMS[name]}"
        )
        return Comparison(why, None, exact)
    return Comparison("tolerant", difference(strict=False), exact)
