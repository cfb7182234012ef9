"""The prose's measured figures, rendered from the runs recorded in docs/generated/.

mkdocs-macros (configured in mkdocs.yml) loads this module. Every ``<name>.run.json`` that the
test suite records beside an output becomes ``run.<name>``, the metrics that run wrote, so a page
says ``pre-training takes {{ run.step3_pretrain.seconds | num(".0f") }} seconds`` instead of
retyping a number that the next run would change. A typo in a name fails the strict build.

Filters: ``num(x, spec=",")`` formats with a Python format spec (",.0f", ".2f", ...);
``pct(x, digits=0)`` writes a fraction as a percentage ("65.8%"); ``signed(x, spec)`` adds "+";
``exp`` turns a loss into a perplexity.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

GENERATED = Path(__file__).resolve().parents[1] / "docs" / "generated"


def recorded_runs() -> dict:
    """{name: figures} for every docs/generated/<name>.run.json, and the other JSON records there
    (step7_benchmark.json, written by the full load test) under their own names."""
    runs = {}
    for path in sorted(GENERATED.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if path.name.endswith(".run.json"):
            runs[path.name.removesuffix(".run.json")] = data["metrics"]
        else:
            runs.setdefault(path.stem, data)
    return runs


def num(x, spec: str = ",") -> str:
    return format(x, spec)


def pct(x, digits: int = 0) -> str:
    return f"{100 * x:.{digits}f}%"


def signed(x, spec: str = ",") -> str:
    return ("+" if x > 0 else "") + format(x, spec)


def exp(x) -> float:
    """e to the x: a mean cross-entropy loss as a perplexity."""
    return math.exp(x)


def define_env(env):
    env.variables["run"] = recorded_runs()
    for f in (num, pct, signed, exp):
        env.filter(f)
