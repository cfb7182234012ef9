"""Examples are code readers copy: linted and formatted like product code (ruff, pyproject.toml)."""

import shutil
import subprocess

import pytest

from testing_utils import REPO


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff(command):
    ruff = shutil.which("ruff")
    assert ruff, "ruff is missing: pip install -r requirements.txt"
    proc = subprocess.run([ruff, *command], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        f"ruff {' '.join(command)} found problems (fix: ruff check --fix . && ruff format .):\n{proc.stdout}{proc.stderr}"
    )
