"""Supervised fine-tuning for instructions: a chat template, and loss on the answers only.

Run it: ``python snippets/step4_finetuning/instructions.py`` (``--model NAME_OR_PATH``; ``--out
DIR`` saves instructions.json, ``--save DIR`` the tuned model). The guide's model can continue
stories; here it learns to follow an instruction about a story in its prompt, and is tested on
stories it never saw.
"""

# --8<-- [start:imports]
import time

import torch
from transformers import DataCollatorForSeq2Seq, PrinterCallback, Trainer

from guide import training_args
from guide.data import stories

# --8<-- [end:imports]
# isort: split
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model

# --8<-- [start:template]
# A chat template turns a list of messages into the exact text the model is trained on. Real
# chat models ship theirs in tokenizer_config.json; the guide's model gets a minimal one.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}<|user|> {{ m['content'] }}\n"
    "{% else %}<|assistant|> {{ m['content'] }}{{ eos_token }}\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
# --8<-- [end:template]


def qa_pairs(n_train=600, n_test=50):
    """(instruction, answer) pairs about a story given in the prompt: the person's job, their
    town, whether it was a good day. The answers are in the story (or its events), so the model
    must read the context it is given; the test stories are held out."""

    def pairs(split, n):
        out = []
        for r in stories(split, n):
            story, first = r["text"], r["person"].split()[0]
            out += [
                (f"{story}\nWhat is {first}'s job?", r["job"]),
                (f"{story}\nWhere does {first} live?", r["town"]),
                (f"{story}\nWas it a good day for {first}?", "yes" if r["sentiment"] == "positive" else "no"),
            ]
        return out

    return pairs("train", n_train), pairs("test", n_test)


# --8<-- [start:masking]
def chat_prompt(tokenizer, question):
    """The conversation up to where the assistant's answer starts."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )


@torch.no_grad()
def reply(model, tokenizer, question, max_new_tokens=6):
    """The model's greedy answer to one instruction."""
    ids = tokenizer(chat_prompt(tokenizer, question), return_tensors="pt")["input_ids"]
    out = model.generate(
        ids,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()


def sft_example(tokenizer, question, answer):
    """Token ids of the whole conversation, and labels that are -100 (ignored by the loss) on
    the prompt, so the model learns to produce answers, not to predict questions."""
    prompt = chat_prompt(tokenizer, question)
    full = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], tokenize=False
    )
    prompt_ids = tokenizer(prompt)["input_ids"]
    ids = tokenizer(full.rstrip("\n"))["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids, "the prompt must be a prefix of the conversation"
    return {"input_ids": ids, "labels": [-100] * len(prompt_ids) + ids[len(prompt_ids) :]}
    # --8<-- [end:masking]


KINDS = {"job?": "job", "live?": "town", "day for": "good day?"}


# --8<-- [start:trainer]
def train_with_trainer(model, tokenizer, examples, steps, **settings):
    """Full fine-tuning with Trainer. The masked labels travel in each example; the collator
    only pads (labels with -100), so Trainer's loss is already the answer-only loss.
    ``settings`` override this run's training arguments (Step 5's warm start uses them)."""
    run = {
        "max_steps": steps,
        "per_device_train_batch_size": 16,
        "learning_rate": 1e-3,
        "warmup_steps": 20,
        "lr_scheduler_type": "linear",
        "weight_decay": 0.0,
        "remove_unused_columns": False,  # keep our "labels" as they are
    }
    args = training_args(**(run | settings))  # the guide's defaults (guide/runtime.py), then this run's
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=examples,
        data_collator=DataCollatorForSeq2Seq(tokenizer, return_tensors="pt"),
    )
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return model.eval()
    # --8<-- [end:trainer]


def exact_match(model, tokenizer, pairs):
    """Greedy answers, compared with the expected answer word for word, per kind of question."""
    model.eval()
    right, count = dict.fromkeys(KINDS.values(), 0), dict.fromkeys(KINDS.values(), 0)
    for question, answer in pairs:
        kind = next(v for k, v in KINDS.items() if k in question)
        count[kind] += 1
        right[kind] += reply(model, tokenizer, question) == answer
    return {kind: right[kind] / count[kind] for kind in right} | {"all": sum(right.values()) / len(pairs)}


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="instructions.json")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--save", help="folder to save the instruction-tuned model and its tokenizer in")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    logging.set_verbosity_error()
    seed_everything(0)
    tokenizer, model = load_causal_lm(args.model or guide_model())
    tokenizer.chat_template = tokenizer.chat_template or CHAT_TEMPLATE
    train, test = qa_pairs()
    before = exact_match(model, tokenizer, test)

    examples = [sft_example(tokenizer, q, a) for q, a in train]
    start = time.perf_counter()
    train_with_trainer(model, tokenizer, examples, args.steps)
    seconds = time.perf_counter() - start
    after = exact_match(model, tokenizer, test)

    question, expected = test[0]
    print(f"{len(train)} training instructions, {len(test)} test instructions about held-out stories")
    print(f"exact match on the test instructions, {args.steps} steps of fine-tuning ({seconds:.1f} s):")
    for kind in after:
        print(f"  {kind:<10} {before[kind]:>6.1%} before  {after[kind]:>6.1%} after")
    print(
        f"example: {chat_prompt(tokenizer, question)!r} -> {reply(model, tokenizer, question)!r} (expected {expected!r})"
    )
    if args.save:  # with its chat template, so a chat client formats prompts as it was trained
        model.save_pretrained(args.save)
        tokenizer.save_pretrained(args.save)
    write_metrics(
        args.out,
        "instructions",
        {"before": before, "after": after, "train": len(train), "test": len(test), "seconds": seconds},
    )


if __name__ == "__main__":
    main()
