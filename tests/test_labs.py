"""The labs run, from the first cell to the last, and the site shows that run.

Each lab (docs/labs/stepN_lab.py, a jupytext notebook) is executed here in a real Jupyter
kernel, after the examples it calls have run in their own tests: their runs come from the
session's run cache (guide/runs.py), so no example trains twice. What the lab printed is
compared with docs/generated/<lab>.txt like every other recorded output (tests/recorded.py),
and docs/generated/labs/<lab>.ipynb, the executed notebook with its plots, is what the site
renders (hooks/site.py), so serving the site runs nothing. ``pytest --update-outputs`` rewrites
both from this run.
"""

from __future__ import annotations

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from testing_utils import GENERATED, REPO, updating_outputs

LABS = sorted((REPO / "docs" / "labs").glob("step*_lab.py"))
RECORDED = GENERATED / "labs"
# A lab replays the examples it calls, so it takes seconds; a cell still running after this hangs.
# (Lab 5's plain DPO trains in the kernel: 112 s idle here, past 900 s with stress-ng on the other core.)
CELL_TIMEOUT_S = 1800


def code_sources(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def printed(notebook) -> str:
    """What the lab showed, as text: each code cell's stdout and results, in order. (Plots are
    compared by their presence, not their pixels; stderr carries scratch paths and notices.)"""
    parts = []
    for i, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        shown = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stdout":
                shown.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                data = output.get("data", {})
                shown.append("[image]\n" if "image/png" in data else data.get("text/plain", "") + "\n")
        parts.append(f"--- cell {i + 1} ---\n" + "".join(shown))
    return "".join(parts)


def for_the_site(notebook):
    """The executed notebook without what differs run to run and says nothing to a reader:
    stderr (scratch paths, library notices) and execution timestamps."""
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    return notebook


@pytest.mark.slow
# A lab replays its examples' runs, but Lab 5 also trains one variant no test runs (plain DPO):
# its guard is the per-cell CELL_TIMEOUT_S, not the suite's 600 s per test
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("lab", LABS, ids=[lab.stem for lab in LABS])
def test_the_lab_runs_and_the_site_shows_that_run(lab, guide_model, page_output, monkeypatch, tmp_path, pytestconfig):
    monkeypatch.setenv("GUIDE_DEVICE", "cpu")  # as the examples' tests run them, so their runs replay
    # plots inline, as in Jupyter (the suite's processes draw with Agg, which shows nothing)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = jupytext.read(lab)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    page_output(lab.stem, printed(notebook))
    copy = RECORDED / f"{lab.stem}.ipynb"
    if updating_outputs(pytestconfig):
        RECORDED.mkdir(parents=True, exist_ok=True)
        nbformat.write(for_the_site(notebook), copy)
        return
    assert copy.exists(), f"{copy.relative_to(REPO)} is missing: record it with pytest --update-outputs"
    shown = nbformat.read(copy, as_version=4)
    assert code_sources(shown) == code_sources(notebook), (
        f"the site shows an older run of {lab.name}: its code changed since {copy.relative_to(REPO)} "
        "was recorded. Refresh it: pytest --update-outputs tests/test_labs.py"
    )
    assert printed(shown) == (GENERATED / f"{lab.stem}.txt").read_text(encoding="utf-8"), (
        f"{copy.relative_to(REPO)} and docs/generated/{lab.stem}.txt come from different runs: "
        "refresh both with pytest --update-outputs tests/test_labs.py"
    )
