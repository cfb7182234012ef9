"""The pages' code blocks as tests: a pytest plugin (the root conftest.py loads it).

pytest-codeblocks runs the Python and shell blocks of a Markdown page, but it reads the raw
Markdown: it would not see code that a page includes with ``--8<--``, and it silently skips
fences tagged ``python title="..."``, ``py`` or ``{ .python }``. So this plugin expands the
includes with pymdownx's own snippet preprocessor (configured as in mkdocs.yml), normalises the
fence tags, and refuses any Python block that is neither run nor skipped with a written reason.

The project it collects is the run's root folder (``config.rootpath``): the repository, or the
scratch project a harness test builds with pytester.
"""

from __future__ import annotations

import ast
import io
import linecache
import re
import sys
import traceback
import types
from pathlib import Path

import markdown
import pytest
from pytest_codeblocks.main import extract_from_buffer
from pytest_codeblocks.plugin import TestBlock

REPO = Path(__file__).resolve().parents[1]

PYTHON_TAGS = {"python", "py", "python3"}
# Interactive-session fences: Python a reader sees but nothing could run as written.
CONSOLE_TAGS = {"pycon", "python-console", "ipython", "ipython3"}
SHELL_TAGS = {"bash": "bash", "sh": "sh", "shell": "bash"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})(?P<info>[^`]*)$")


def fence_language(info: str) -> str:
    """The language of a fence's info string: ``python title="x" hl_lines="2"`` -> ``python``,
    ``{ .python .annotate }`` -> ``python``, ``py`` -> ``py``."""
    info = info.strip()
    if info.startswith("{"):
        classes = re.findall(r"\.([\w+-]+)", info)
        return classes[0].lower() if classes else ""
    return info.split()[0].lower() if info else ""


def normalise_fences(text: str) -> str:
    """Rewrite every fence opener so pytest-codeblocks sees exactly python/bash/sh."""
    out, closing = [], None
    for line in text.splitlines(keepends=True):
        m = FENCE.match(line.rstrip("\n"))
        if closing is None and m:
            lang = fence_language(m["info"])
            lang = "python" if lang in PYTHON_TAGS else SHELL_TAGS.get(lang, lang or "text")
            closing = m["ticks"][0] * len(m["ticks"])
            out.append(f"{m['indent']}{'`' * len(m['ticks'])}{lang}\n")
        elif closing is not None and m and m["ticks"].startswith(closing) and not m["info"].strip():
            closing = None
            out.append(f"{m['indent']}{'`' * len(m['ticks'])}\n")
        else:
            out.append(line)
    return "".join(out)


def expand_snippets(text: str, root: Path = REPO) -> str:
    """Apply pymdownx.snippets exactly as mkdocs.yml configures it for the site (paths relative
    to ``root``)."""
    md = markdown.Markdown(
        extensions=["pymdownx.snippets"],
        extension_configs={
            "pymdownx.snippets": {
                "base_path": [str(root)],
                "check_paths": True,
                "dedent_subsections": True,
            }
        },
    )
    return "\n".join(md.preprocessors["snippet"].run(text.split("\n")))


def code_blocks(text: str) -> list:
    """The fenced code blocks of an expanded page, as pytest-codeblocks reads them."""
    return extract_from_buffer(io.StringIO(normalise_fences(text)))


def parse_mark(mark: str, where: str) -> pytest.MarkDecorator:
    """``pytest.mark.NAME(literal, ..., key=literal)`` from a page's HTML comment, as a marker,
    read without running it: every argument must be a Python literal (a string, a number...)."""
    try:
        node = ast.parse(mark.strip(), mode="eval").body
        call = node if isinstance(node, ast.Call) else None
        target = call.func if call else node
        if not (isinstance(target, ast.Attribute) and ast.unparse(target.value) == "pytest.mark"):
            raise ValueError("not pytest.mark.NAME")
        args = [ast.literal_eval(a) for a in call.args] if call else []
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords} if call else {}
    except (SyntaxError, ValueError) as err:
        raise pytest.UsageError(
            f"{where}: cannot read the mark <!--{mark}--> ({err}). Write pytest.mark.NAME(...) with "
            'literal arguments only, e.g. <!--pytest.mark.skip(reason="...")-->.'
        ) from None
    decorator = getattr(pytest.mark, target.attr)
    return decorator(*args, **kwargs) if call else decorator


def page_block_class():
    class PageBlock(TestBlock):
        """A page's Python block runs as a reader's script would: in a module of its own (with a
        ``__name__``, which libraries such as Strawberry rely on), and a failure shows the real
        traceback rather than pytest-codeblocks' one-line summary."""

        def runtest(self):
            if self.obj.syntax != "python" or self.obj.expected_output is not None:
                return super().runtest()
            module = types.ModuleType("__page__")
            sys.modules["__page__"] = module
            try:
                # dont_inherit: this file's `from __future__ import annotations` must not leak in
                name = self.block_name()
                linecache.cache[name] = (len(self.obj.code), None, self.obj.code.splitlines(True), name)  # tracebacks
                exec(compile(self.obj.code, name, "exec", dont_inherit=True), module.__dict__)
            finally:
                sys.modules.pop("__page__", None)

        def block_name(self):
            return f"{self.path.name} (block at expanded line {self.obj.lineno})"

        def repr_failure(self, excinfo):
            """The traceback from the block's first line down, with the block's source lines."""
            tb = excinfo.tb
            while tb and tb.tb_frame.f_code.co_filename != self.block_name():
                tb = tb.tb_next
            return "".join(traceback.format_exception(excinfo.type, excinfo.value, tb or excinfo.tb))

        def reportinfo(self):
            return self.path, self.obj.lineno, self.name

    return PageBlock


class MarkdownPage(pytest.File):
    """One Markdown page; each of its python/bash blocks becomes a test item."""

    def collect(self):
        PageBlock = page_block_class()  # noqa: N806

        root = self.config.rootpath
        where = self.path.relative_to(root)
        raw = expand_snippets(self.path.read_text(encoding="utf-8"), root)
        for number, line in enumerate(raw.splitlines(), 1):
            m = FENCE.match(line)
            if m and fence_language(m["info"]) in CONSOLE_TAGS:
                raise pytest.UsageError(
                    f"{where} (expanded line {number}): a {fence_language(m['info'])} "
                    "block cannot be run or checked. Show the code in a python block and its output "
                    "from a file in docs/generated/ that a test keeps in sync."
                )
        for block in code_blocks(raw):
            if block.syntax not in {"python", "bash", "sh"}:
                continue
            marks = [parse_mark(m, f"{where} (expanded line {block.lineno})") for m in block.marks]
            skips = [m.mark for m in marks if m.name in ("skip", "skipif")]
            # a reason is a written sentence, not a placeholder: at least 8 characters
            if block.syntax == "python" and any(len(str(m.kwargs.get("reason", ""))) < 8 for m in skips):
                raise pytest.UsageError(
                    f"{where} (expanded line {block.lineno}): a Python block "
                    "is skipped without a reason. Every Python block a reader sees must run; write "
                    'why it cannot as <!--pytest.mark.skip(reason="...")-->.'
                )
            item = PageBlock.from_parent(parent=self, name=f"line {block.lineno}")
            item.obj = block
            for mark in marks:
                item.add_marker(mark)
            yield item


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".md":
        return None
    root = parent.config.rootpath
    rel = file_path.resolve().relative_to(root) if file_path.resolve().is_relative_to(root) else None
    if rel is None or not (rel == Path("README.md") or rel.parts[0] == "docs"):
        return None
    if "generated" in rel.parts:
        return None
    return MarkdownPage.from_parent(parent, path=file_path)
