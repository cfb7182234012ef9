"""Contrastive post-training: pairs from a stronger and a weaker writer, SFT, then DPO.

Run it: ``python snippets/step5_alignment/dpo.py`` (``--model NAME_OR_PATH``; ``--reward-model
DIR`` picks the judge; ``--out DIR`` saves dpo.json and dpo.png). It prints how often the
policy's implicit reward ranks held-out pairs right, and how often the reward model prefers
the DPO policy's stories to the SFT model's.
"""

# --8<-- [start:imports]
import tempfile
import time

import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import PrinterCallback
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from guide import training_args
from guide.scoring import completion_log_probs, sample_responses
from step5_alignment import preferences

# --8<-- [end:imports]
# isort: split
import copy
from pathlib import Path

from matplotlib.figure import Figure  # not pyplot: saving a file needs no GUI backend
from transformers import AutoModelForCausalLM
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.model import load_causal_lm
from guide.rule import judge
from step3_pretraining.pretrain import guide_model
from step5_alignment.reward_model import score, trained_reward_model


# --8<-- [start:pairs]
@torch.no_grad()
def sample(model, tokenizer, prompts, seed=0, batch=64):
    """One sampled continuation per prompt (temperature 1), cut at the end-of-text token."""
    torch.manual_seed(seed)
    texts = []
    for i in range(0, len(prompts), batch):
        ids, n = sample_responses(model, tokenizer, prompts[i : i + batch])
        texts += tokenizer.batch_decode(ids[:, n:], skip_special_tokens=True)
    return texts


def contrastive_pairs(model, tokenizer, split, n, seed=0):
    """The stronger writer's response is chosen, the weaker one's rejected, with no judge in
    the loop: the assumption of contrastive post-training (Xu et al., 2023). Here the stronger
    writer is the world's own storyteller asked for a good day with a fitting ending (our
    stand-in for a big model); the weaker one is the guide's pre-trained model."""
    strong = [(prompt, write(True, True)) for prompt, write in preferences.prompts(split, n, seed=seed)]
    weak = sample(model, tokenizer, [prompt for prompt, _ in strong], seed=seed)
    return [{"prompt": p, "chosen": c, "rejected": r} for (p, c), r in zip(strong, weak)]
    # --8<-- [end:pairs]


# --8<-- [start:loss]
def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta=0.5):
    """DPO (Rafailov et al., 2023), from per-token log-probabilities of each response under
    the policy and the frozen reference. A response's implicit reward is beta x log(policy /
    reference), summed over its tokens; the loss is the Bradley-Terry loss on those rewards.
    No reward model and no sampling: the reference in the ratio is the KL leash."""
    chosen_reward = beta * (policy_chosen.sum(-1) - ref_chosen.sum(-1))
    rejected_reward = beta * (policy_rejected.sum(-1) - ref_rejected.sum(-1))
    return -F.logsigmoid(chosen_reward - rejected_reward).mean(), chosen_reward, rejected_reward


def nll_loss(policy_chosen, chosen_mask):
    """The SFT term: mean negative log-likelihood of the chosen responses' tokens. Added to
    DPO it keeps the chosen answers likely while the rejected ones are pushed down."""
    return -policy_chosen.sum() / chosen_mask[:, 1:].sum()
    # --8<-- [end:loss]


# --8<-- [start:sft]
def _common_args(steps, lr, batch):
    """What SFT and DPO share, on top of the guide's defaults (guide.training_args)."""
    return dict(
        max_steps=steps,
        learning_rate=lr,
        per_device_train_batch_size=batch,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        logging_steps=10,
        max_length=128,
    )


def sft(model, tokenizer, pairs, steps=5, lr=1e-3, batch=16):
    """Supervised fine-tuning on the chosen responses (TRL SFTTrainer; with prompt/completion
    data it puts the loss on the completion only). A few steps teach the answer's shape."""
    data = Dataset.from_list([{"prompt": p["prompt"], "completion": p["chosen"]} for p in pairs])
    trainer = SFTTrainer(
        model=model,
        args=training_args(SFTConfig, **_common_args(steps, lr, batch)),
        train_dataset=data,
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return model.eval()
    # --8<-- [end:sft]


# --8<-- [start:dpo]
def dpo(model, reference, tokenizer, pairs, steps=150, lr=3e-4, batch=16, beta=0.5, sft_weight=1.0):
    """DPO with TRL's DPOTrainer: the policy starts as the SFT model, which also serves,
    frozen, as the reference. sft_weight adds the SFT term (TRL's "sft" loss type); 0 is
    plain DPO."""
    extra = dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, sft_weight]) if sft_weight else {}
    args = training_args(DPOConfig, **_common_args(steps, lr, batch), beta=beta, **extra)
    data = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    trainer = DPOTrainer(model=model, ref_model=reference, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return model.eval(), trainer
    # --8<-- [end:dpo]


def _encode(tokenizer, prompts, responses):
    """input_ids, attention_mask and a mask of the response tokens, right-padded."""
    rows = [
        (tokenizer(p)["input_ids"], tokenizer(r)["input_ids"] + [tokenizer.eos_token_id])
        for p, r in zip(prompts, responses)
    ]
    width = max(len(a) + len(b) for a, b in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    attention, completion = torch.zeros_like(ids), torch.zeros_like(ids)
    for i, (a, b) in enumerate(rows):
        ids[i, : len(a) + len(b)] = torch.tensor(a + b)
        attention[i, : len(a) + len(b)] = 1
        completion[i, len(a) : len(a) + len(b)] = 1
    return ids, attention, completion


@torch.no_grad()
def implicit_rewards(policy, reference, tokenizer, pairs, beta=0.5):
    """beta x log(policy / reference) of each pair's chosen and rejected response."""
    out = []
    for key in ("chosen", "rejected"):
        batch = _encode(tokenizer, [p["prompt"] for p in pairs], [p[key] for p in pairs])
        out.append(beta * (completion_log_probs(policy, *batch) - completion_log_probs(reference, *batch)).sum(-1))
    return out


def plot_dpo(log_history, margins, path):
    """Left: the implicit rewards TRL logs while training. Right: held-out margins after DPO."""
    fig = Figure(figsize=(9, 3.2))
    left, right = fig.subplots(1, 2)
    logs = [h for h in log_history if "rewards/margins" in h]
    for key in ("rewards/chosen", "rewards/rejected", "rewards/margins"):
        left.plot([h["step"] for h in logs], [h[key] for h in logs], marker="o", label=key.split("/")[1])
    left.axhline(0, color="grey", linewidth=1)
    left.set(xlabel="DPO step", ylabel="implicit reward (training batches)")
    left.legend()
    right.hist(margins, bins=30)
    right.axvline(0, color="grey", linewidth=1)
    right.set(xlabel="margin, chosen - rejected", ylabel="held-out pairs")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="dpo.json and dpo.png")
    parser.add_argument("--reward-model", help="a folder saved by reward_model.py --save (default: train one)")
    parser.add_argument("--sft-steps", type=int, default=5)
    parser.add_argument("--dpo-steps", type=int, default=150)
    parser.add_argument("--sft-weight", type=float, default=1.0, help="weight of the SFT term in DPO (0: plain DPO)")
    args = parser.parse_args(argv)
    if args.sft_steps < 0 or args.dpo_steps < 1:
        parser.error("--sft-steps must be 0 or more and --dpo-steps at least 1")

    logging.set_verbosity_error()
    rm_tokenizer, reward_model = trained_reward_model(args.reward_model)
    seed_everything(0)
    tokenizer, base = load_causal_lm(args.model or guide_model())
    train, test = contrastive_pairs(base, tokenizer, "train", 800), contrastive_pairs(base, tokenizer, "test", 200, 1)
    truly = sum(judge(p["chosen"]) > judge(p["rejected"]) for p in train) / len(train)

    start = time.perf_counter()
    policy = sft(copy.deepcopy(base), tokenizer, train, steps=args.sft_steps) if args.sft_steps else base
    # The reference is a frozen copy of the SFT model. Load it from disk: copy.deepcopy of a
    # model a Trainer has used would keep the forward() that accelerate wrapped around the
    # original, so the "copy" would silently run the policy's weights.
    policy.save_pretrained(folder := tempfile.mkdtemp())
    reference = AutoModelForCausalLM.from_pretrained(folder).eval()
    policy = AutoModelForCausalLM.from_pretrained(folder)
    sft_seconds = time.perf_counter() - start
    policy, trainer = dpo(policy, reference, tokenizer, train, steps=args.dpo_steps, sft_weight=args.sft_weight)
    dpo_seconds = time.perf_counter() - start - sft_seconds
    chosen, rejected = implicit_rewards(policy, reference, tokenizer, test)
    right = (chosen > rejected).tolist()
    accuracy = sum(right) / len(right)
    agreed = [r for r, p in zip(right, test) if judge(p["chosen"]) > judge(p["rejected"])]

    # Four samples per held-out prompt from each model; the reward model judges them
    prompts = [p["prompt"] for p in test for _ in range(4)]
    answers = {
        "pre-trained": sample(base, tokenizer, prompts, seed=2),
        "SFT (reference)": sample(reference, tokenizer, prompts, seed=2),
        "DPO": sample(policy, tokenizer, prompts, seed=2),
    }
    with torch.no_grad():
        rm = {
            name: torch.cat(
                [
                    score(reward_model, rm_tokenizer, prompts[i : i + 200], texts[i : i + 200])
                    for i in range(0, len(prompts), 200)
                ]
            )
            for name, texts in answers.items()
        }
    per_prompt = {name: r.view(-1, 4).mean(1) for name, r in rm.items()}
    wins = {other: (per_prompt["DPO"] > per_prompt[other]).float().mean().item() for other in list(answers)[:2]}
    table = {
        name: {
            "well-formed": sum(judge(t) > -2 for t in texts) / len(texts),
            "good day, fitting end": sum(judge(t) == 1.5 for t in texts) / len(texts),
            "rule": sum(judge(t) for t in texts) / len(texts),
            "reward model": rm[name].mean().item(),
        }
        for name, texts in answers.items()
    }

    print(f"{len(train)} contrastive pairs, stronger writer's answer chosen; the rule agrees on {truly:.0%} of them")
    print(
        f"SFT on the chosen answers: {args.sft_steps} steps; DPO (+ SFT term x{args.sft_weight:g}): "
        f"{args.dpo_steps} steps, {dpo_seconds:.1f} s"
    )
    print(
        f"implicit reward ranks {len(test)} held-out pairs right: {accuracy:.1%} "
        f"({sum(agreed) / len(agreed):.1%} of those where the rule agrees with the pair)"
    )
    print("| model | well-formed | good day, fitting end | rule score | reward model |")
    print("|---|---:|---:|---:|---:|")
    for name, row in table.items():
        print(
            f"| {name} | {row['well-formed']:.0%} | {row['good day, fitting end']:.0%} | {row['rule']:+.2f} "
            f"| {row['reward model']:+.2f} |"
        )
    for other, w in wins.items():
        print(
            f"the reward model prefers DPO's answers to the {other} model's on {w:.1%} of {len(test)} held-out prompts"
        )
    print(f"a DPO answer: {test[1]['prompt']}{answers['DPO'][4]}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        plot_dpo(trainer.state.log_history, (chosen - rejected).tolist(), Path(args.out) / "dpo.png")
    write_metrics(
        args.out,
        "dpo",
        {
            "accuracy": accuracy,
            "wins": wins,
            "table": table,
            "truly": truly,
            "accuracy_where_rule_agrees": sum(agreed) / len(agreed),
            "train_log": [h for h in trainer.state.log_history if "rewards/chosen" in h],
            "seconds": {"sft": sft_seconds, "dpo": dpo_seconds},
        },
    )


if __name__ == "__main__":
    main()
