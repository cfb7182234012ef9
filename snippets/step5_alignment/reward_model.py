"""The RLHF reward model: a scalar head on the pre-trained model, trained on preference pairs.

Run it: ``python snippets/step5_alignment/reward_model.py`` (``--trainer trl`` trains with TRL's
RewardTrainer instead of the loop written here; ``--save DIR`` keeps the model; ``--out DIR``
saves reward_model.json and the accuracy curve). Accuracy is measured on held-out people.
"""

# --8<-- [start:imports]
import time

import torch
import torch.nn.functional as F
from transformers import PrinterCallback

from guide import training_args

# --8<-- [end:imports]
# isort: split
import json
import sys
from pathlib import Path

from matplotlib.figure import Figure  # not pyplot: saving a file needs no GUI backend
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging

import guide.runtime
import guide.world
from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.cache import build_key, cached_build
from guide.errors import GuideError
from step3_pretraining.pretrain import guide_model
from step4_finetuning import classify
from step4_finetuning.classify import load_classifier
from step5_alignment import preferences
from step5_alignment.preferences import KINDS, annotate, preference_pairs


# --8<-- [start:loss]
def bradley_terry_loss(reward_chosen, reward_rejected):
    """-log sigmoid(r_chosen - r_rejected), averaged over pairs. Under the Bradley-Terry model
    the chance that a person prefers A to B is sigmoid(r_A - r_B); this is the negative
    log-likelihood of the preferences we observed. Only differences matter: adding a constant
    to every reward changes nothing."""
    return -F.logsigmoid(reward_chosen - reward_rejected).mean()
    # --8<-- [end:loss]


# --8<-- [start:score]
def score(model, tokenizer, prompts, responses):
    """One scalar per (prompt, response): the head's output at the end-of-text token we append
    (TRL's RewardTrainer appends it too, so both train and score the same texts)."""
    texts = [p + r + tokenizer.eos_token for p, r in zip(prompts, responses)]
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    return model(**enc.to(model.device)).logits.squeeze(-1)
    # --8<-- [end:score]


# --8<-- [start:train]
@torch.no_grad()
def pair_accuracy(model, tokenizer, pairs, batch=100):
    """Share of pairs where the chosen response gets the higher reward (overall and per kind
    of pair), and the mean margin."""
    was_training = model.training
    model.eval()
    margins = []
    for i in range(0, len(pairs), batch):
        chunk = pairs[i : i + batch]
        prompts = [p["prompt"] for p in chunk]
        margin = score(model, tokenizer, prompts, [p["chosen"] for p in chunk]) - score(
            model, tokenizer, prompts, [p["rejected"] for p in chunk]
        )
        margins += margin.tolist()
    model.train(was_training)
    right = {}
    for p, m in zip(pairs, margins):
        right.setdefault(p.get("kind", "all"), []).append(m > 0)
    return {
        "accuracy": sum(m > 0 for m in margins) / len(margins),
        "margin": sum(margins) / len(margins),
        "per_kind": {kind: sum(v) / len(v) for kind, v in right.items()},
    }


def train_reward_model(model, tokenizer, train, test, steps=200, batch=16, lr=3e-4, every=20):
    """Plain PyTorch: score both responses of each pair, push the chosen one's reward up."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    curve = [{"step": 0, **pair_accuracy(model, tokenizer, test)}] if test else []
    generator = torch.Generator().manual_seed(0)
    model.train()
    for step in range(1, steps + 1):
        chunk = [train[int(i)] for i in torch.randint(len(train), (batch,), generator=generator)]
        prompts = [p["prompt"] for p in chunk]
        loss = bradley_terry_loss(
            score(model, tokenizer, prompts, [p["chosen"] for p in chunk]),
            score(model, tokenizer, prompts, [p["rejected"] for p in chunk]),
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if test and step % every == 0:
            curve.append({"step": step, **pair_accuracy(model, tokenizer, test)})
    return model.eval(), curve
    # --8<-- [end:train]


# --8<-- [start:trl]
def train_with_trl(model, tokenizer, train, steps=200, batch=16, lr=3e-4):
    """The same training with TRL's RewardTrainer: it joins prompt + response, puts the chosen
    half and the rejected half of a batch through the model together, and uses the same loss."""
    from datasets import Dataset  # noqa: PLC0415 -- optional and slow to import: only --trainer trl needs it
    from trl import RewardConfig, RewardTrainer  # noqa: PLC0415 -- optional and slow to import: only --trainer trl needs it

    args = training_args(  # the guide's defaults (guide/runtime.py: bf16 off, no checkpoints, ...)
        RewardConfig,
        max_steps=steps,
        per_device_train_batch_size=batch,
        learning_rate=lr,
        lr_scheduler_type="constant",
        weight_decay=0.0,
        logging_steps=20,
    )
    data = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in train])
    trainer = RewardTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return model.eval(), trainer
    # --8<-- [end:trl]


def load_reward_model(name_or_path=None):
    """(tokenizer, model): the pre-trained model with a fresh one-output head, dropout off
    (TRL's trainers switch it off too: a reward should not be noisy)."""
    return load_classifier(name_or_path, num_labels=1, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


STEPS = 200  # the default run's training steps


def pairs():
    """(training pairs, as the annotators labelled them; 400 held-out pairs about other people)."""
    return annotate(preference_pairs("train", 2000)), preference_pairs("test", 400)


def trained_reward_model(path=None, log=None):
    """The reward model the later examples optimise against: from ``path`` if given, else the
    default run's (built_reward_model)."""
    path = built_reward_model(log) if path is None else path
    if not (Path(path) / "config.json").exists():
        raise GuideError(
            f"{path!r} holds no saved reward model (no config.json). Train one with: "
            f"python snippets/step5_alignment/reward_model.py --save {path}"
        )
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    if model.config.num_labels != 1:
        raise GuideError(f"the model in {path!r} has {model.config.num_labels} outputs; a reward model has one")
    return tokenizer, model


def built_reward_model(log=None) -> Path:
    """The folder of the default run's reward model (the loop above, on the guide's model, for
    STEPS steps) with its learning curve (training.json): trained once, cached next to the
    guide's model (guide.cache), and trained again when anything it is made from changes: this
    code, the preferences, the guide's model. The default run of this file and the later steps
    read the same one."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    base = guide_model(log=log)
    code = [Path(m.__file__) for m in (guide.runtime, guide.world, classify, preferences)] + [Path(__file__)]
    key = build_key(*code, base / "model.safetensors", {"threads": guide.runtime.THREADS, "torch": torch.__version__})
    return cached_build(base.with_name("reward-model"), key, seed_everything_and_train, "the reward model", log)


def seed_everything_and_train(save):
    seed_everything(0)
    tokenizer, model = load_reward_model(None)
    train, test = pairs()
    start = time.perf_counter()
    model, curve = train_reward_model(model, tokenizer, train, test, steps=STEPS)
    seconds = time.perf_counter() - start
    model.save_pretrained(save)
    tokenizer.save_pretrained(save)
    (Path(save) / "training.json").write_text(json.dumps({"curve": curve, "seconds": seconds}), encoding="utf-8")


def plot_curve(curve, path):
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    steps = [c["step"] for c in curve]
    ax.plot(steps, [100 * c["accuracy"] for c in curve], marker="o", linewidth=2.5, color="black", label="all pairs")
    for kind in curve[0]["per_kind"]:
        ax.plot(steps, [100 * c["per_kind"][kind] for c in curve], marker=".", alpha=0.8, label=kind)
    ax.axhline(90, color="grey", linestyle="--", linewidth=1, label="target 90%")
    ax.set(xlabel="training step", ylabel="held-out pair accuracy (%)", ylim=(30, 102))
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def train_here(args, model, tokenizer, train_pairs, test):
    """Any other run: train here, with the loop above or with TRL. Returns (model, curve, seconds)."""
    start = time.perf_counter()
    if args.trainer == "scratch":
        model, curve = train_reward_model(model, tokenizer, train_pairs, test, steps=args.steps)
    else:
        before = {"step": 0, **pair_accuracy(model, tokenizer, test)}
        model, _ = train_with_trl(model, tokenizer, train_pairs, steps=args.steps)
        curve = [before, {"step": args.steps, **pair_accuracy(model, tokenizer, test)}]
    return model, curve, time.perf_counter() - start


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="reward_model.json and reward_model.png")
    parser.add_argument("--trainer", choices=["scratch", "trl"], default="scratch")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--save", help="folder to save the trained reward model and tokenizer in")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    logging.set_verbosity_error()
    train, test = pairs()
    if args.trainer == "scratch" and args.model is None and args.steps == STEPS:
        # the default run: the reward model the later steps use, trained once (built_reward_model)
        folder = built_reward_model()
        tokenizer, model = trained_reward_model(folder)
        training = json.loads((folder / "training.json").read_text(encoding="utf-8"))
        curve, seconds = training["curve"], training["seconds"]
    else:
        seed_everything(0)
        tokenizer, model = load_reward_model(args.model)
        model, curve, seconds = train_here(args, model, tokenizer, train, test)
    final = curve[-1]

    print(
        f"reward model trained with {'the loop above' if args.trainer == 'scratch' else 'TRL RewardTrainer'}: "
        f"{len(train)} pairs, {args.steps} steps, {seconds:.1f} s"
    )
    shown = [c for c in curve if c["step"] % 40 == 0 or c is final]
    print(f"accuracy on {len(test)} held-out pairs, after step " + "".join(f"{c['step']:>7}" for c in shown))
    print(f"  {'all pairs':<35}" + "".join(f"{c['accuracy']:>7.1%}" for c in shown))
    for kind in KINDS:
        print(f"  {kind:<35}" + "".join(f"{c['per_kind'][kind]:>7.1%}" for c in shown))
    print(f"final mean margin (chosen - rejected): {final['margin']:.2f}")
    if args.save:
        model.save_pretrained(args.save)
        tokenizer.save_pretrained(args.save)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        plot_curve(curve, Path(args.out) / "reward_model.png")
    write_metrics(
        args.out,
        "reward_model",
        {
            "curve": curve,
            "accuracy": final["accuracy"],
            "seconds": seconds,
            "per_kind": final["per_kind"],
            "trainer": args.trainer,
        },
    )


if __name__ == "__main__":
    main()
