"""RL with verifiable rewards: GRPO with a program that checks each answer, after a short SFT.

Run it: ``python snippets/step5_alignment/rlvr.py`` (``--model NAME_OR_PATH``; ``--sft-steps``
and ``--rl-steps``; ``--out DIR`` saves rlvr.json). The task is the sum of three digits: 800
problems to learn from, 200 held out. Each format (the answer at once, or a short scratchpad
first) gets the same warm start; then GRPO, with and without its KL term, rewarded by a checker.
"""

# --8<-- [start:imports]
import math
import random
import re
import statistics

import torch
from datasets import Dataset
from transformers import PrinterCallback
from trl import GRPOConfig, GRPOTrainer

from guide import training_args
from step4_finetuning.instructions import train_with_trainer
from step5_alignment.rlhf import sequence_log_probs

# --8<-- [end:imports]
# isort: split
import tempfile
import time

from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model


# --8<-- [start:task]
def problems():
    """Every sum of three digits, "3+8+5=", in a fixed shuffle: 800 to train on, 200 held out."""
    triples = [(a, b, c) for a in range(10) for b in range(10) for c in range(10)]
    random.Random(0).shuffle(triples)
    return [f"{a}+{b}+{c}=" for a, b, c in triples[200:]], [f"{a}+{b}+{c}=" for a, b, c in triples[:200]]


def digits(prompt):
    """The three digits of a prompt: "3+8+5=" -> (3, 8, 5)."""
    return tuple(map(int, prompt.rstrip("=").split("+")))


def total(prompt):
    return sum(digits(prompt))


# What the warm start teaches the model to write after a prompt, and what the checker accepts:
# the whole completion must have the format, and the number it ends with must be the sum.
FORMATS = {
    "answer at once": (lambda a, b, c: f" {a + b + c}", re.compile(r" (\d+)")),
    "think, then answer": (
        lambda a, b, c: f" {a}+{b}={a + b}, {a + b}+{c}={a + b + c}, so {a + b + c}",
        re.compile(r" \d\+\d=\d+, \d+\+\d=\d+, so (\d+)"),
    ),
}


def target(prompt, form):
    return FORMATS[form][0](*digits(prompt))


def checker(prompt, completion, form):
    """The verifiable reward: 1 if the completion has the format and its answer is right, else
    0. It checks only the outcome; the scratchpad's steps earn nothing by themselves."""
    match = FORMATS[form][1].fullmatch(completion)
    return float(match is not None and int(match.group(1)) == total(prompt))


def lenient_checker(prompt, completion, form=None):
    """A checker that looks for the right number anywhere in the text: easier to write, and
    hackable (a scratchpad holds several numbers; a list of guesses holds the answer)."""
    return float(re.search(rf"(?<!\d){total(prompt)}(?!\d)", completion) is not None)
    # --8<-- [end:task]


# --8<-- [start:warm_start]
def warm_start(model, tokenizer, train, form, steps):
    """Supervised fine-tuning on worked examples in the format, with loss on the completion
    only (Step 4's masking and Trainer), so the model starts RL able to answer sometimes."""
    examples = []
    for prompt in train:
        ids = tokenizer(prompt + target(prompt, form) + tokenizer.eos_token)["input_ids"]
        n = len(tokenizer(prompt)["input_ids"])
        examples.append({"input_ids": ids, "labels": [-100] * n + ids[n:]})
    return train_with_trainer(
        model, tokenizer, examples, steps, per_device_train_batch_size=32, warmup_steps=0, lr_scheduler_type="constant"
    )
    # --8<-- [end:warm_start]


# --8<-- [start:grpo]
def reinforce(start, tokenizer, train, form, reward, beta, steps, lr=2e-4):
    """GRPO (TRL) with a program as the reward function: 8 samples per problem, advantages
    relative to the group's mean and divided by its standard deviation (TRL's default
    scale_rewards="group"), and beta x KL to the warm-started model (beta=0: none).
    ``start`` is the warm start's folder: TRL loads the KL's reference model from the path in
    the policy's config, so an in-memory model would be leashed to the model it was loaded
    from, the pre-trained one. Dropout is off, so the policy that samples is the one scored."""
    args = training_args(
        GRPOConfig,
        max_steps=steps,
        learning_rate=lr,
        beta=beta,
        num_generations=8,
        per_device_train_batch_size=64,  # completions per step: 8 problems x 8 samples
        max_completion_length=24 if form == "think, then answer" else 6,
        temperature=1.0,
        top_k=0,
        lr_scheduler_type="constant",
        disable_dropout=True,
        logging_steps=10,
    )

    def verifiable(prompts, completions, **_):  # TRL passes the dataset's other columns too
        return [reward(p, c, form) for p, c in zip(prompts, completions)]

    trainer = GRPOTrainer(
        model=str(start),
        reward_funcs=verifiable,
        args=args,
        processing_class=tokenizer,
        train_dataset=Dataset.from_list([{"prompt": p} for p in train]),
    )
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return trainer.model.eval()
    # --8<-- [end:grpo]


# --8<-- [start:evaluate]
def pass_at_k(n, c, k):
    """The chance that at least one of k samples is right, estimated without bias from n
    samples of which c are right (Chen et al., 2021): 1 - C(n - c, k) / C(n, k)."""
    return 1.0 if n - c < k else 1 - math.comb(n - c, k) / math.comb(n, k)


@torch.no_grad()
def evaluate(model, tokenizer, test, form, reference=None, samples=16, k=(1, 4, 16)):
    """Exact match of the greedy answer on held-out problems, and pass@k from sampled ones
    (temperature 1): can the model find the answer at all, in k tries? With a ``reference``,
    also KL(model || reference) per completion, estimated on the model's own samples."""
    model.eval()
    enc = tokenizer(test, return_tensors="pt", padding=True, padding_side="left")
    n = enc["input_ids"].shape[1]
    room = {"max_new_tokens": 24, "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
    greedy = tokenizer.batch_decode(model.generate(**enc, do_sample=False, **room)[:, n:], skip_special_tokens=True)
    ids = model.generate(**enc, do_sample=True, top_k=0, num_return_sequences=samples, **room)
    sampled = tokenizer.batch_decode(ids[:, n:], skip_special_tokens=True)
    kl = None
    if reference is not None:  # Step 5's RLHF estimate: mean log p_model(y|x) - log p_reference(y|x)
        kl = (
            (sequence_log_probs(model, ids, n, tokenizer) - sequence_log_probs(reference, ids, n, tokenizer))
            .mean()
            .item()
        )
    strict = [checker(test[i // samples], t, form) for i, t in enumerate(sampled)]  # samples come grouped
    right = [sum(strict[i * samples : (i + 1) * samples]) for i in range(len(test))]
    lenient = [lenient_checker(test[i // samples], t) > paid for i, (t, paid) in enumerate(zip(sampled, strict))]
    return {
        "exact match": statistics.mean(checker(p, g, form) for p, g in zip(test, greedy)),
        **{f"pass@{j}": statistics.mean(pass_at_k(samples, int(c), j) for c in right) for j in k},
        "lenient pays, strict refuses": statistics.mean(lenient),  # what a hackable checker would reward
        "kl": kl,
        "tokens per answer": statistics.mean(len(tokenizer(g)["input_ids"]) for g in greedy),
        "example": test[0] + greedy[0],
    }
    # --8<-- [end:evaluate]


HACKS = {  # completions a policy could find; the strict checker must pay none of them
    "a list of guesses": " 14 15 16 17",
    "the right number in the scratchpad, a wrong answer": " 3+8=11, 11+5=16, so 17",
    "an answer with words around it": " it is 16",
}


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="rlvr.json")
    parser.add_argument("--sft-steps", type=int, default=600, help="warm-start steps for each format")
    parser.add_argument("--rl-steps", type=int, default=150, help="GRPO steps for each run")
    args = parser.parse_args(argv)
    if args.sft_steps < 1 or args.rl_steps < 1:
        parser.error("--sft-steps and --rl-steps must be at least 1")

    logging.set_verbosity_error()
    train, test = problems()
    results, began = {}, time.perf_counter()
    for form in FORMATS:
        seed_everything(0)
        tokenizer, model = load_causal_lm(args.model or guide_model())
        model = warm_start(model, tokenizer, train, form, args.sft_steps)
        results[(form, "warm start (SFT)")] = evaluate(model, tokenizer, test, form)
        with tempfile.TemporaryDirectory(prefix="guide-warm-start-") as folder:
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            for beta in (0.04, 0.0) if form == "answer at once" else (0.04,):
                seed_everything(0)
                policy = reinforce(folder, tokenizer, train, form, checker, beta, args.rl_steps)
                results[(form, f"+ GRPO, beta={beta:g}")] = evaluate(policy, tokenizer, test, form, reference=model)
    seconds = time.perf_counter() - began

    print(
        f"{len(train)} training problems, {len(test)} held out; {args.sft_steps} warm-start steps, {args.rl_steps} GRPO steps"
    )
    print(
        "| format | model | exact match (greedy) | pass@1 | pass@4 | pass@16 | KL to the warm start | wrong, yet paid by a lenient checker |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (form, stage), r in results.items():
        kl = "" if r["kl"] is None else f"{r['kl']:.2f} nats"
        cells = " | ".join(f"{r[m]:.1%}" for m in ("exact match", "pass@1", "pass@4", "pass@16"))
        print(f"| {form} | {stage} | {cells} | {kl} | {r['lenient pays, strict refuses']:.1%} |")
    tokens = {form: results[(form, "warm start (SFT)")]["tokens per answer"] for form in FORMATS}
    print("tokens per greedy answer: " + "; ".join(f"{form}: {t:.1f}" for form, t in tokens.items()))
    print(f"a greedy answer with its scratchpad: {results[('think, then answer', '+ GRPO, beta=0.04')]['example']!r}")
    hacks = {
        name: {"strict": checker("3+8+5=", text, "think, then answer"), "lenient": lenient_checker("3+8+5=", text)}
        for name, text in HACKS.items()
    }
    print("completions a policy could try on 3+8+5= (the sum is 16):")
    for name, text in HACKS.items():
        print(f"  {name} {'3+8+5=' + text!r}: strict {hacks[name]['strict']:.0f}, lenient {hacks[name]['lenient']:.0f}")
    print(f"{seconds:.0f} s in all")
    write_metrics(
        args.out,
        "rlvr",
        {
            "results": {f"{form} | {stage}": r for (form, stage), r in results.items()},
            "hacks": hacks,
            "train": len(train),
            "test": len(test),
            "seconds": seconds,
        },
    )


if __name__ == "__main__":
    main()
