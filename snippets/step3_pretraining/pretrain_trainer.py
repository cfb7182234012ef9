"""The same pre-training with Hugging Face's Trainer: every knob of the plain loop, as arguments.

Run it: ``python snippets/step3_pretraining/pretrain_trainer.py`` (``--out DIR`` saves
pretrain_trainer.json). Shorter than pretrain.py: it is here to show the mapping, not to
replace the guide's model.
"""

import math

# --8<-- [start:imports]
import tempfile
import time

import torch
from transformers import PrinterCallback, Trainer, TrainingArguments
from transformers.utils import logging

from step3_pretraining.pretrain import make_model, read_corpus, token_blocks, train_tokenizer

# --8<-- [end:imports]
# isort: split
from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares


class Blocks(torch.utils.data.Dataset):
    """Trainer wants a dataset of dicts; the labels are the inputs (the model shifts them)."""

    def __init__(self, blocks):
        self.blocks = blocks

    def __len__(self):
        return len(self.blocks)

    def __getitem__(self, i):
        return {"input_ids": self.blocks[i], "labels": self.blocks[i]}


# --8<-- [start:arguments]
def make_trainer(model, train_set, val_set, steps):
    arguments = TrainingArguments(
        output_dir=tempfile.mkdtemp(),  # checkpoints go here when save_strategy asks for them
        max_steps=steps,  # count optimizer steps, not epochs (passes over the data)
        per_device_train_batch_size=16,  # blocks per forward pass on each device
        gradient_accumulation_steps=1,  # raise it to fit a larger batch in the same memory
        learning_rate=3e-3,
        warmup_steps=12,  # linear warm-up...
        lr_scheduler_type="cosine",  # ...then cosine decay
        weight_decay=0.1,
        adam_beta2=0.95,
        max_grad_norm=1.0,  # gradient clipping
        bf16=torch.cuda.is_available(),  # mixed precision where the hardware supports it
        eval_strategy="steps",
        eval_steps=40,
        logging_steps=20,
        save_strategy="no",  # "steps" + save_steps=N writes resumable checkpoints
        report_to=[],  # no tracking service: nothing leaves the machine
        seed=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=arguments, train_dataset=train_set, eval_dataset=val_set)
    trainer.remove_callback(PrinterCallback)  # we print our own summary
    return trainer
    # --8<-- [end:arguments]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="pretrain_trainer.json")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    logging.set_verbosity_error()
    seed_everything(0)
    texts = read_corpus()  # the cleaned small-world corpus, split into train and validation
    tokenizer = train_tokenizer(texts["train"])
    train_set, val_set = (Blocks(token_blocks(tokenizer, texts[s])) for s in ("train", "validation"))
    model = make_model(tokenizer)

    trainer = make_trainer(model, train_set, val_set, args.steps)

    start = time.perf_counter()
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    seconds = time.perf_counter() - start
    print(
        f"Trainer, {args.steps} steps: validation loss {before:.2f} -> {after:.2f}, "
        f"perplexity {math.exp(before):,.0f} -> {math.exp(after):.2f} ({seconds:.1f} s)"
    )
    losses = [round(h["loss"], 2) for h in trainer.state.log_history if "loss" in h]
    print(f"training loss every 20 steps: {losses}")
    write_metrics(
        args.out, "pretrain_trainer", {"before": before, "after": after, "seconds": seconds, "train_losses": losses}
    )


if __name__ == "__main__":
    main()
