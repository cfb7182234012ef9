"""The command line every example shares: the common options, and how a command ends.

Each example's ``main()`` is a thin shell around its lesson::

    @command
    def main(argv=None):
        args = parser(__doc__, model=True, out="classify.json").parse_args(argv)
        ...

``parser`` declares the options every example spells the same way (``--model``, ``--out``);
``command`` runs ``main`` on the guide's thread count, through the run cache when the tests
ask for one (guide/runs.py), and turns a GuideError into one line on stderr and exit status 1,
so a reader sees what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import sys

from guide.errors import GuideError
from guide.runs import cached
from guide.runtime import set_threads

MODEL_HELP = "a Hugging Face id or local folder (default: the guide's model)"


def parser(doc: str, *, model: bool = False, out: str | None = None) -> argparse.ArgumentParser:
    """An argument parser described by the first line of the example's docstring. ``model``
    adds ``--model``; ``out`` adds ``--out DIR`` and names the files written there."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    if model:
        p.add_argument("--model", help=MODEL_HELP)
    if out:
        p.add_argument("--out", help=f"folder for {out} (the tests read it)")
    return p


def command(main=None, *, cache: bool = True):
    """Decorate an example's ``main(argv=None)``: threads set, GuideError reported, not raised,
    and, when GUIDE_RUN_CACHE is set, the run looked up in the run cache first (guide/runs.py).
    ``cache=False`` for a command whose effect is not its printout and its --out folder (a
    server, a client of one, a build that saves elsewhere)."""

    def decorate(main):
        @functools.wraps(main)
        def run(argv=None):
            argv = list(sys.argv[1:] if argv is None else argv)
            set_threads()
            try:
                if cache:
                    return cached(main, sys.modules[main.__module__].__file__, argv)
                return main(argv)
            except GuideError as err:
                print(f"error: {err}", file=sys.stderr)
                raise SystemExit(1) from None

        return run

    return decorate(main) if main is not None else decorate
