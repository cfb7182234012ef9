"""Fine-tune the guide's model to classify a story's sentiment: full fine-tuning vs LoRA.

Run it: ``python snippets/step4_finetuning/classify.py`` (``--model NAME_OR_PATH`` for another
model, ``--out DIR`` saves classify.json). One run trains both ways with Trainer and prints the
table the Step 4 page shows: trainable parameters, accuracy, time and size on disk.
"""

# --8<-- [start:imports]
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from peft import LoraConfig, TaskType, get_peft_model
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, PrinterCallback, Trainer

from guide import training_args
from guide.data import stories

# --8<-- [end:imports]
# isort: split
from transformers.utils import logging

from guide import cli, pick_device, seed_everything, write_metrics
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model


# --8<-- [start:data]
def sentiment_data(tokenizer, n_train=1000, n_test=400):
    """Tokenised (story, label) examples: 1 for a good day, 0 for a bad one."""

    def examples(split, n):
        rows = stories(split, n)
        enc = tokenizer([r["text"] for r in rows], truncation=True, max_length=96)
        return [
            {"input_ids": ids, "attention_mask": mask, "labels": int(r["sentiment"] == "positive")}
            for ids, mask, r in zip(enc["input_ids"], enc["attention_mask"], rows, strict=True)
        ]

    return examples("train", n_train), examples("test", n_test)
    # --8<-- [end:data]


def load_classifier(name_or_path, num_labels=2, **from_pretrained):
    """The pre-trained language model with a fresh classification head ("score"): two outputs
    here, one for Step 5's reward model. Extra keyword arguments go to from_pretrained (QLoRA
    passes its quantisation config)."""
    source = name_or_path or guide_model()  # Step 3 builds the guide's model if it is missing
    tokenizer, _ = load_causal_lm(source)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=num_labels, **from_pretrained)
    model.config.pad_token_id = tokenizer.pad_token_id  # GPT-2 finds each row's last real token by it
    return tokenizer, model


# --8<-- [start:lora]
def with_lora(model, r=8, alpha=16):
    """Freeze the model; add rank-r updates to every attention projection (GPT-2's c_attn) and
    train the new classification head in full (it starts from random)."""
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=r,
        lora_alpha=alpha,
        lora_dropout=0.0,
        target_modules=["c_attn"],
        modules_to_save=["score"],
        fan_in_fan_out=True,  # GPT-2 stores W transposed
    )
    return get_peft_model(model, config)
    # --8<-- [end:lora]


# --8<-- [start:train]
def fine_tune(model, tokenizer, train, test, lr, epochs=2, seed=0, device_type="cpu", batch_size=16):
    args = training_args(  # the guide's defaults (guide/runtime.py), then this run's settings
        device=device_type,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        warmup_steps=10,
        weight_decay=0.0,
        lr_scheduler_type="linear",
        eval_strategy="no",
        seed=seed,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(tokenizer))
    trainer.remove_callback(PrinterCallback)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    predictions = trainer.predict(test)
    accuracy = float((np.argmax(predictions.predictions, -1) == predictions.label_ids).mean())
    return accuracy, seconds
    # --8<-- [end:train]


def weights_on_disk(path):
    """Bytes of the saved weights. (The JSON files beside them name the base model's folder,
    whose length differs from machine to machine, so they are left out.)"""
    return sum(f.stat().st_size for f in Path(path).rglob("*.safetensors"))


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="classify.json")
    parser.add_argument("--device", help="cpu or cuda (default: the best available)")
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    if device.type not in ("cpu", "cuda"):
        parser.error(f"this example runs on cpu or cuda, not {device.type}; pass --device cpu")
    print(f"device: {device.type}")
    logging.set_verbosity_error()
    rows = {}
    for method in ("full fine-tuning", "LoRA r=8"):
        seed_everything(0)
        tokenizer, model = load_classifier(args.model)
        train, test = sentiment_data(tokenizer)
        if method.startswith("LoRA"):
            model = with_lora(model)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        # LoRA wants a larger learning rate: it trains few, freshly initialised parameters
        lr = 2e-3 if method.startswith("LoRA") else 5e-4
        accuracy, seconds = fine_tune(model, tokenizer, train, test, lr=lr, device_type=device.type)
        peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder)  # the whole model, or only the adapter and head for LoRA
            on_disk = weights_on_disk(folder)
        rows[method] = {
            "trainable": trainable,
            "total": total,
            "accuracy": accuracy,
            "seconds": seconds,
            "checkpoint_bytes": on_disk,
            "peak_gpu_bytes": peak,
            "weights_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        }
        model.cpu()
        del model

    majority = max(sum(ex["labels"] for ex in test), len(test) - sum(ex["labels"] for ex in test)) / len(test)
    print(f"sentiment of {len(test)} held-out stories (majority class: {majority:.1%})")
    gpu = device.type == "cuda"
    print(
        "| method | trainable parameters | share | accuracy | training time | weights in memory "
        f"| checkpoint weights on disk |{' peak GPU memory |' if gpu else ''}"
    )
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if gpu else ""))
    for method, r in rows.items():
        print(
            f"| {method} | {r['trainable']:,} | {r['trainable'] / r['total']:.2%} | {r['accuracy']:.1%} "
            f"| {r['seconds']:.1f} s | {r['weights_bytes'] / 1e6:.2f} MB | {r['checkpoint_bytes'] / 1e6:.2f} MB |"
            + (f" {r['peak_gpu_bytes'] / 2**20:.1f} MiB |" if gpu else "")
        )
    write_metrics(args.out, "classify", {"majority": majority, "rows": rows})


if __name__ == "__main__":
    main()
