"""MkDocs hooks: keep the built site offline, and offer every lab as a Jupyter notebook.

* Material for MkDocs fetches mermaid (and, in very old browsers, a ResizeObserver polyfill)
  from unpkg.com when a page needs it. We point that at the copy vendored in
  docs/assets/vendor/, so a diagram renders with no network and no CDN URL is left in the JS.
* nbconvert's page template, which mkdocs-jupyter uses for the labs, carries a MathJax 2
  loader and a mermaid loader that import from cdnjs. The site already loads its own MathJax
  3, and the labs draw no mermaid, so both are cut out of the lab pages.
* The labs are jupytext percent-format .py files in docs/labs/. The site shows the run the
  test suite recorded (tests/test_labs.py writes docs/generated/labs/<lab>.ipynb): before
  mkdocs-jupyter renders a lab, we give it the lab's current cells with the recorded outputs
  of every code cell that has not changed since, so a prose edit shows at once and nothing is
  executed. An edited code cell shows no output until the run is recorded again.
* mkdocs-jupyter sets page.nb_url; we write a real .ipynb beside each rendered lab and point
  the download button (overrides/partials/actions.html) at it.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path

import jupytext
import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

REPO = Path(__file__).resolve().parents[1]
RECORDED_LABS = REPO / "docs" / "generated" / "labs"
RENDERED_LABS = REPO / ".cache" / "labs"  # what mkdocs-jupyter reads (gitignored)

# Exact string literals in Material's minified bundle -> what replaces them.
BUNDLE_URLS = {
    '"https://unpkg.com/mermaid@11/dist/mermaid.min.js"': 'new URL("assets/vendor/mermaid/mermaid.min.js",__md_scope).href',
    '"https://unpkg.com/resize-observer-polyfill"': '"data:text/javascript,"',
}


def _is_lab(page) -> bool:
    return page.file.src_uri.startswith("labs/") and page.file.src_uri.endswith(".py")


def with_recorded_outputs(lab: Path) -> Path:
    """The lab's cells, each code cell with the outputs recorded for the same code, written to
    .cache/labs/<lab>.ipynb."""
    notebook = jupytext.read(lab)
    outputs = defaultdict(list)  # code -> the recorded outputs of each cell with that code, in order
    recorded = RECORDED_LABS / f"{lab.stem}.ipynb"
    if recorded.exists():
        for cell in nbformat.read(recorded, as_version=4).cells:
            if cell.cell_type == "code":
                outputs[cell.source].append((cell.outputs, cell.execution_count))
    for cell in notebook.cells:
        if cell.cell_type == "code" and outputs[cell.source]:
            cell.outputs, cell.execution_count = outputs[cell.source].pop(0)
    target = RENDERED_LABS / f"{lab.stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


@event_priority(-50)  # after mkdocs-jupyter has taken the labs on as notebooks
def on_files(files, config):
    for file in files:
        if file.src_uri.startswith("labs/") and file.src_uri.endswith(".py"):
            file.abs_src_path = str(with_recorded_outputs(Path(config["docs_dir"]) / file.src_uri))
    return files


def on_page_context(context, page, config, nav):
    if _is_lab(page):
        # Relative to the page's own folder, so it works under any site_url or `mkdocs serve`.
        page.nb_url = Path(page.file.src_uri).stem + ".ipynb"
    return context


# The two script blocks of nbconvert's lab template that would reach for a CDN.
NBCONVERT_CDN_BLOCKS = [
    re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S),
    re.compile(
        r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{\s*'
        r'const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>',
        re.S,
    ),
]


# A Markdown cell of a lab, as nbconvert renders it, and TeX between single dollars inside it.
MARKDOWN_CELL = re.compile(r'(<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown[^"]*"[^>]*>)(.*?)(</div>)', re.S)
DOLLAR_MATH = re.compile(r"(?<![\\$])\$([^$<>\n]+?)\$")


def _arithmatex(match):
    """Mark $...$ in a lab's Markdown the way pymdownx.arithmatex marks math on the pages, so
    the site's one MathJax configuration typesets both."""
    head, body, tail = match.groups()
    return head + DOLLAR_MATH.sub(r'<span class="arithmatex">\\(\1\\)</span>', body) + tail


def on_post_page(output, page, config):
    if _is_lab(page):
        output = MARKDOWN_CELL.sub(_arithmatex, output)
        for block in NBCONVERT_CDN_BLOCKS:
            output = block.sub("", output)
        if "cdnjs.cloudflare.com" in output:
            raise PluginError(
                f"{page.file.src_uri}: nbconvert's template still loads from cdnjs; "
                "update NBCONVERT_CDN_BLOCKS in hooks/site.py"
            )
        # on_files already wrote the lab as a notebook, with its recorded outputs: offer that one
        target = Path(page.file.abs_dest_path).parent / (Path(page.file.src_uri).stem + ".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page.file.abs_src_path, target)
    return output


def on_post_build(config):
    bundles = list(Path(config.site_dir, "assets", "javascripts").glob("bundle.*.min.js"))
    if len(bundles) != 1:
        raise PluginError(f"expected one Material bundle.*.min.js, found {len(bundles)}")
    text = bundles[0].read_text(encoding="utf-8")
    for old, new in BUNDLE_URLS.items():
        if old not in text:
            raise PluginError(
                f"Material's bundle no longer contains {old}; the theme changed how it loads "
                "third-party scripts. Update BUNDLE_URLS in hooks/site.py."
            )
        text = text.replace(old, new)
    bundles[0].write_text(text, encoding="utf-8")
