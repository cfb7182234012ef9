"""Examples are code readers copy: linted and formatted like product code (ruff, pyproject.toml)."""

import json
import shutil
import subprocess

import pytest

from page_blocks import code_blocks, expand_snippets
from testing_utils import REPO


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff(command):
    ruff = shutil.which("ruff")
    assert ruff, "ruff is missing: pip install -r requirements.txt"
    proc = subprocess.run([ruff, *command], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        f"ruff {' '.join(command)} found problems (fix: ruff check --fix . && ruff format .):\n{proc.stdout}{proc.stderr}"
    )


def python_blocks(page):
    """The Python a reader sees on a page, its includes expanded as the site expands them."""
    blocks = code_blocks(expand_snippets(page.read_text(encoding="utf-8")))
    return "\n".join(b.code for b in blocks if b.syntax == "python")


def undefined_names(code):
    """The names ruff (F821) finds used and never defined or imported in ``code``."""
    proc = subprocess.run(
        [shutil.which("ruff"), "check", "--isolated", "--select", "F821", "--output-format", "json", "-"],
        input=code,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return sorted({d["message"].split("`")[1] for d in json.loads(proc.stdout)})


@pytest.mark.parametrize("page", sorted((REPO / "docs").rglob("*.md")), ids=lambda p: str(p.relative_to(REPO / "docs")))
def test_every_page_defines_what_its_code_uses(page):
    """A reader who copies a page's code top to bottom has every name it uses: an excerpt
    that calls a helper the page never shows (or imports) fails here."""
    assert undefined_names(python_blocks(page)) == [], f"{page.name}: define or import these in a block the page shows"


def test_a_name_the_page_never_defines_is_caught():
    assert undefined_names("def f():\n    return helper(1)\n") == ["helper"]
