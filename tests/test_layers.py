"""The examples' layers hold (import-linter, contracts in pyproject.toml): guide/ imports no
step, no step imports a later one, and no package has an import cycle. A planted violation
proves the check can fail."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing_utils import REPO


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on the packages under root/snippets, with the project's contracts."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is missing: bash scripts/install.sh"
    env = {**os.environ, "PYTHONPATH": str(root / "snippets")}
    return subprocess.run(
        [exe, "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layers_hold():
    proc = lint_imports(REPO)
    assert proc.returncode == 0, f"an import breaks the examples' layers:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"


@pytest.mark.parametrize(
    "where, planted, contract",
    [
        ("guide/data.py", "from step3_pretraining import quality", "guide/ imports no step"),
        ("step3_pretraining/quality.py", "from step5_alignment import preferences", "never a later one"),
        ("step3_pretraining/quality.py", "from step3_pretraining import pretrain", "No import cycle"),
    ],
    ids=["guide imports a step", "a step imports a later one", "a cycle"],
)
def test_a_planted_violation_is_caught(tmp_path, where, planted, contract):
    shutil.copytree(
        REPO / "snippets", tmp_path / "snippets", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    module = tmp_path / "snippets" / where
    # inside a function, where the lessons' late imports live: the contracts must see those too
    module.write_text(module.read_text() + f"\n\ndef _planted():\n    {planted}  # noqa\n")
    proc = lint_imports(tmp_path)
    assert proc.returncode != 0, proc.stdout[-3000:]
    report = " ".join(proc.stdout.split())  # the report wraps long lines
    assert f"{contract}" in report and "BROKEN" in report.split(contract, 1)[1][:200], report[-3000:]
