"""Every measured number in the prose is bound to a recorded run.

A page writes a measurement as a macro, ``{{ run.step3_pretrain.seconds | num(".0f") }}``,
which the build renders from docs/generated/step3_pretrain.run.json, the run the suite compares
with a fresh one. Any other number in a page's prose is a setting or a fact (128-token context,
Step 3, 2 cores), and the page says so in its front matter:

    ---
    not_measured:    # numbers in the prose that no run measures
      - 128-token context
      - 2 cores
    ---

This test fails on a number that is neither, naming its line: a number typed by hand drifts
from the run that once measured it. Code blocks, inline code, math, links and years are not
prose numbers.
"""

from __future__ import annotations

import re

import pytest
import yaml

from recorded import GENERATED
from testing_utils import REPO

DOCS = REPO / "docs"
# every page, also those of a section's folder (docs/step-7/); docs/generated/ holds no pages
PAGES = sorted(p for p in DOCS.rglob("*.md") if "generated" not in p.relative_to(DOCS).parts)

FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)
# What is not prose, replaced by spaces so line numbers and offsets stay where they were
NOT_PROSE = [
    re.compile(r"^[ \t]*(?P<f>`{3,}|~{3,}).*?^[ \t]*(?P=f)\s*$", re.S | re.M),  # fenced code, also in tabs
    re.compile(r"`[^`\n]+`"),  # inline code
    re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S),  # macros: bound to the run
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"\]\([^)]*\)|^\[[^\]]+\]:.*$", re.M),  # link targets and reference links
    re.compile(r"\$\$.*?\$\$|\\\(.*?\\\)|\$[^$\n]+\$", re.S),  # math
    re.compile(r"<[^>\n]+>"),  # HTML tags and their attributes
    re.compile(r"https?://\S+"),
    re.compile(r"\[\^\w+\]"),  # footnote references
    re.compile(r"^\s*(?:\d+\.|[-*])\s", re.M),  # list markers
    re.compile(r'^\s*[-=]{3,}\s*$|^--8<--.*$|^\s*(?:!!!|\?\?\?|===)\s.*"', re.M),
]
NUMBER = re.compile(r"(?<![\w.\-/#])[-+−]?\d(?:[\d,]*\d)?(?:\.\d+)?")
YEAR = re.compile(r"(?:19[5-9]\d|20[0-3]\d)$")
STEP = re.compile(r"(?:Step|Steps|step|Lab|Issue|Figure|Table|and|or|to)\s+$")


def prose(text: str) -> str:
    """The page with everything that is not prose blanked out (same length, same lines)."""
    for pattern in NOT_PROSE:
        text = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    return text


def unbound_numbers(text: str) -> list[tuple[int, str]]:
    """(line number, the line) for every number in the prose that is neither a macro nor listed
    under the page's ``not_measured`` front matter."""
    meta = {}
    m = FRONT_MATTER.match(text)
    if m:
        meta = yaml.safe_load(m.group(1)) or {}
        text = re.sub(r"[^\n]", " ", m.group()) + text[m.end() :]
    body = prose(text)
    covered = [False] * len(body)
    for phrase in meta.get("not_measured", []):
        phrase = str(phrase)
        found = False
        for hit in re.finditer(re.escape(phrase).replace(r"\ ", r"\s+"), body):
            found = True
            covered[hit.start() : hit.end()] = [True] * (hit.end() - hit.start())
        if not found:
            raise AssertionError(f"not_measured lists {phrase!r}, which the prose no longer has: remove it")
    problems = []
    for hit in NUMBER.finditer(body):
        digits = hit.group().lstrip("+-−")
        if all(covered[hit.start() : hit.end()]) or YEAR.match(digits):
            continue
        if STEP.search(body[max(0, hit.start() - 8) : hit.start()]) and re.fullmatch(r"[1-7]", digits):
            continue  # "Step 3"
        line = body.count("\n", 0, hit.start()) + 1
        problems.append((line, text.splitlines()[line - 1].strip()))
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_number_in_the_prose_is_bound_to_a_run_or_declared_a_setting(page):
    problems = unbound_numbers(page.read_text(encoding="utf-8"))
    listing = "\n".join(f"  {page.relative_to(REPO)}:{line}: {text[:140]}" for line, text in problems)
    assert not problems, (
        f"{len(problems)} number(s) typed by hand in the prose:\n{listing}\n"
        "Render a measured number from its run ({{ run.<output>.<figure> }}, see hooks/figures.py), "
        "or, if no run measures it, list its phrase under not_measured in the page's front matter."
    )


def test_a_number_typed_into_the_prose_is_caught():
    page = "---\nnot_measured:\n  - 2 cores\n---\nIt takes {{ run.x.seconds }} seconds on 2 cores.\n"
    assert unbound_numbers(page) == []
    planted = page.replace("{{ run.x.seconds }}", "21")
    assert [line for line, _ in unbound_numbers(planted)] == [5]


def test_code_math_links_years_and_steps_are_not_prose_numbers():
    page = (
        "Step 3 (Vaswani et al., 2017, and 2019) uses `lr=3e-4` and $d_k = 64$, [see](https://x.org/1706.03762).\n"
        "```python\nx = 128\n```\n"
        '=== "CPU"\n\n    ```bash\n    torchrun --nproc_per_node=2 x.py\n    ```\n'
    )
    assert unbound_numbers(page) == []


def test_the_figures_the_pages_render_exist():
    """Every run a macro names has a record (the strict build fails too; this says which)."""
    names = {p.name.removesuffix(".run.json").removesuffix(".json") for p in GENERATED.glob("*.json")}
    for page in PAGES:
        macros = " ".join(re.findall(r"\{\{.*?\}\}|\{%.*?%\}", page.read_text(encoding="utf-8"), re.S))
        for name in re.findall(r"\brun\.(\w+)", macros):
            assert name in names, f"{page.name} renders run.{name}, but docs/generated/{name}.run.json does not exist"
