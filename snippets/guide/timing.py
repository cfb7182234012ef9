"""How long each example may take, in one place, and the benchmark that measures it.

Speed is a benchmark, never a pass/fail test: a slower or busier machine is not a broken one.
The budgets below are what each example should take on the 2-core CPU that CI uses. The test
suite records the time of every example it runs and prints them next to these budgets at the
end (and writes artifacts/timings.json); a test fails on time only when an example runs
``HANG_FACTOR`` times past its budget, which means it hangs, not that the machine is slow.

    python -m guide.timing              # run every example once, print the table
    python -m guide.timing --only rlhf  # just the examples whose name contains "rlhf"
    python -m guide.timing --from artifacts/timings.json   # the table of the suite's last run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from guide.machine import describe

SNIPPETS = Path(__file__).resolve().parents[1]
# A test fails on time only past this many budgets: the example hangs. Not a speed check.
# (20: a machine half as fast as the budgets' one, with a busy core, runs about 5 budgets.)
HANG_FACTOR = 20
# and never sooner than this (an example of a few seconds may wait long for a busy core)
HANG_FLOOR_S = 300


@dataclass(frozen=True)
class Example:
    script: str  # relative to snippets/
    args: tuple[str, ...] = ()
    budget_s: float = 20
    server: bool = False  # runs until stopped: the budget is its wait from start to /ready
    uses: str | None = None  # the example whose saved model this one takes with --model

    @property
    def name(self) -> str:
        return " ".join([self.script, *self.args])


# The examples that save a model a later one loads: each runs with --save FOLDER (the guide's
# model goes where GUIDE_MODEL_DIR points, so every later example finds it on its own).
PRETRAIN, INSTRUCTIONS = "step3_pretraining/pretrain.py", "step4_finetuning/instructions.py"
SAVERS = (PRETRAIN, INSTRUCTIONS)

# In the order a reader meets them (later ones use the guide's model that pretrain.py builds).
EXAMPLES = [
    Example("step1_basics/first_taste.py", budget_s=20),
    Example("step1_basics/vocabulary.py", budget_s=15),
    Example("step2_architecture/architectures.py", budget_s=20),
    Example("step2_architecture/attention.py", budget_s=20),
    Example("step2_architecture/gpt.py", budget_s=15),
    Example("step2_architecture/modern.py", budget_s=10),
    Example("step2_architecture/moe.py", budget_s=10),
    Example("step2_architecture/attention_cost.py", budget_s=20),
    Example("step3_pretraining/world.py", budget_s=10),
    Example("step3_pretraining/pretrain.py", budget_s=30),
    Example("step3_pretraining/objectives.py", budget_s=25),
    Example("step3_pretraining/quality.py", budget_s=20),
    Example("step3_pretraining/decoding.py", budget_s=20),
    Example("step3_pretraining/kv_cache.py", budget_s=15),
    Example("step3_pretraining/tokens.py", budget_s=10),
    Example("step3_pretraining/scaling.py", ("--short",), budget_s=25),
    Example("step3_pretraining/scaling.py", budget_s=300),  # the full ladder: by hand, --page
    Example("step3_pretraining/llama_style.py", ("--steps", "20"), budget_s=15),
    Example("step3_pretraining/llama_style.py", budget_s=90),  # the full run: by hand, --page
    Example("step3_pretraining/moe_training.py", ("--steps", "20"), budget_s=20),
    Example("step3_pretraining/moe_training.py", budget_s=150),  # the full run: by hand, --page
    Example("step3_pretraining/pretrain_trainer.py", budget_s=30),
    Example("step3_pretraining/ddp.py", budget_s=60),
    Example("step4_finetuning/classify.py", budget_s=60),
    Example("step4_finetuning/instructions.py", budget_s=30),
    Example("step4_finetuning/lora_scratch.py", budget_s=20),
    Example("step4_finetuning/prompting.py", budget_s=30),
    Example("step4_finetuning/qlora.py", budget_s=30),
    Example("step5_alignment/preferences.py", budget_s=10),
    Example("step5_alignment/reward_model.py", budget_s=30),
    Example("step5_alignment/reward_model.py", ("--trainer", "trl"), budget_s=30),
    Example("step5_alignment/rlhf.py", budget_s=30),
    Example("step5_alignment/rlhf.py", ("--beta", "0"), budget_s=30),
    Example("step5_alignment/dpo.py", budget_s=60),
    Example("step5_alignment/rlvr.py", budget_s=150),  # two warm starts and three GRPO runs
    Example("step6_evaluation/metrics.py", budget_s=30),
    Example("step6_evaluation/human_eval.py", budget_s=10),
    Example("step6_evaluation/bias.py", budget_s=30),
    Example("step6_evaluation/robustness.py", budget_s=30),
    Example("step6_evaluation/injection.py", budget_s=15, uses=INSTRUCTIONS),
    Example("step6_evaluation/harness.py", budget_s=20),
    Example("step6_evaluation/contamination.py", budget_s=30),
    Example("step6_evaluation/llm_judge.py", budget_s=45, uses=INSTRUCTIONS),  # with Step 5 reward model, built once
    Example("step6_evaluation/continual.py", budget_s=40),
    Example("step6_evaluation/active_learning.py", budget_s=30),
    Example("step6_evaluation/rag.py", budget_s=75),
    Example("step7_deployment/app.py", budget_s=20, server=True),
    Example("step7_deployment/privacy.py", budget_s=10),
    Example("step7_deployment/siege.py", budget_s=30),
    Example("step7_deployment/quantize.py", budget_s=30),
    Example("step7_deployment/client.py", budget_s=30),
    Example("step7_deployment/langchain_llm.py", budget_s=30),
    Example("step7_deployment/benchmark.py", ("--batches", "1,16", "--per-client", "3"), budget_s=60),
    Example("step7_deployment/benchmark.py", budget_s=90),
]


def budget(script: str, args: tuple[str, ...] = ()) -> float:
    """The budget of ``script`` run with ``args`` (flags the table does not list, such as
    --out or --save, are ignored); the largest of the script's budgets when no entry matches."""
    mine = [e for e in EXAMPLES if e.script == script]
    if not mine:
        raise KeyError(f"{script} has no time budget: add it to EXAMPLES in snippets/guide/timing.py")
    exact = [e for e in mine if e.args and all(a in args for a in e.args)]
    return (exact or [e for e in mine if not e.args] or mine)[0].budget_s


def hang_guard(script: str, args: tuple[str, ...] = ()) -> float:
    """Seconds after which a test gives up on ``script``: it hangs, the machine is not just slow."""
    return max(HANG_FACTOR * budget(script, args), HANG_FLOOR_S)


def table(times: dict[str, float]) -> str:
    """A Markdown table: each example's time next to its budget, in EXAMPLES order."""
    budgets = {e.name: e.budget_s for e in EXAMPLES}
    rows = ["| example | time | budget | |", "|---|---:|---:|---|"]
    for name, seconds in sorted(times.items(), key=lambda kv: list(budgets).index(kv[0]) if kv[0] in budgets else 999):
        limit = budgets.get(name)
        verdict = "" if limit is None else ("over budget" if seconds > limit else "")
        rows.append(f"| `{name}` | {seconds:.1f} s | {'' if limit is None else f'{limit:.0f} s'} | {verdict} |")
    return "\n".join(rows) + "\n"


def measure(examples: list[Example]) -> dict[str, float]:
    """Run each example once, serially, as a reader would, into a scratch folder and with a
    fresh guide model, and return {name: seconds}."""
    times = {}
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "GUIDE_MODEL_DIR": str(Path(scratch) / "guide-model"),
            "HF_HUB_OFFLINE": "1",
            "GUIDE_DEVICE": os.environ.get("GUIDE_DEVICE", "cpu"),
        }
        folders = {PRETRAIN: env["GUIDE_MODEL_DIR"], INSTRUCTIONS: str(Path(scratch) / "instruction-model")}
        # the savers first, in order; one that is not measured but needed is built untimed
        # (the guide's model by every example from Step 3 on, the others by their users)
        needed = {e.uses for e in examples if e.uses} | (
            {PRETRAIN} if any(e.script >= "step3" for e in examples) else set()
        )
        for saver in SAVERS:
            if saver in needed and all(e.script != saver for e in examples):
                print(f"building {saver}'s model first (not timed)", file=sys.stderr, flush=True)
                subprocess.run(
                    [sys.executable, str(SNIPPETS / saver), "--save", folders[saver]],
                    cwd=scratch,
                    env=env,
                    capture_output=True,
                    check=True,
                )
        ordered = sorted(examples, key=lambda e: SAVERS.index(e.script) if e.script in SAVERS else len(SAVERS))
        for example in ordered:
            out = Path(scratch) / f"out-{len(times)}"
            out.mkdir()
            if example.script in SAVERS:
                extra = ("--save", folders[example.script])
            else:
                extra = ("--model", folders[example.uses]) if example.uses else ()
            command = [sys.executable, str(SNIPPETS / example.script), *example.args, *extra, "--out", str(out)]
            launcher = (
                ["-m", "torch.distributed.run", "--nproc_per_node=2"] if example.script.endswith("ddp.py") else []
            )
            if launcher:
                command = [sys.executable, *launcher, *command[1:]]
            start = time.perf_counter()
            proc = subprocess.run(
                command,
                cwd=out,
                env=env,
                capture_output=True,
                text=True,
                timeout=hang_guard(example.script, example.args),
            )
            times[example.name] = time.perf_counter() - start
            status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
            print(f"{times[example.name]:7.1f} s  {example.name}  {status}", file=sys.stderr, flush=True)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the examples whose name contains this")
    parser.add_argument("--from", dest="source", help="print the table of a recorded timings.json instead of running")
    parser.add_argument("--out", help="also write the times as JSON here")
    args = parser.parse_args(argv)
    if args.source:
        try:
            times = json.loads(Path(args.source).read_text(encoding="utf-8"))["seconds"]
        except (OSError, ValueError, KeyError) as err:
            parser.error(f"cannot read timings from {args.source} ({err}); run pytest first, or drop --from")
    else:
        # a server's wait to /ready is timed by the suite (its `service` fixture), not here
        chosen = [e for e in EXAMPLES if not e.server and (not args.only or args.only in e.name)]
        if not chosen:
            parser.error(f"no example's name contains {args.only!r}")
        times = measure(chosen)
    if args.out:
        Path(args.out).write_text(json.dumps({"seconds": times}, indent=2) + "\n", encoding="utf-8")
    print(f"on {describe()}\n")
    print(table(times), end="")


if __name__ == "__main__":
    main()
