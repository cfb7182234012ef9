"""QLoRA: LoRA on top of a model whose frozen weights are stored in 4 bits (NF4).

Run it: ``python snippets/step4_finetuning/qlora.py`` (``--model NAME_OR_PATH``, ``--out DIR``
saves qlora.json). It loads the guide's model with bitsandbytes' 4-bit NF4 and double
quantisation, trains LoRA adapters on the sentiment task, and reports accuracy and how much
memory the quantised layers take. Runs on a CPU (bitsandbytes >= 0.49) and on CUDA GPUs.
"""

# --8<-- [start:imports]
import time

import torch
from peft import prepare_model_for_kbit_training
from transformers import BitsAndBytesConfig

from step4_finetuning.classify import fine_tune, load_classifier, sentiment_data, with_lora

# --8<-- [end:imports]
# isort: split
from transformers.utils import logging

from guide import cli, pick_device, seed_everything, write_metrics


# --8<-- [start:load]
def load_4bit_classifier(name_or_path, device):
    """The classifier with every linear layer quantised to 4-bit NormalFloat (Dettmers et al.,
    2023): weights are stored as 4-bit codes plus one scale per block of 64, and the scales
    themselves are quantised again ("double quantisation"). Computation happens in
    bnb_4bit_compute_dtype after the weights are dequantised on the fly."""
    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if device.type == "cuda" else torch.float32,
    )
    tokenizer, model = load_classifier(
        name_or_path,
        quantization_config=quantization,
        device_map={"": device.index or 0} if device.type == "cuda" else {"": "cpu"},
    )
    # Casts layer norms to fp32 and enables input gradients, so LoRA can train on a frozen 4-bit model.
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return tokenizer, model
    # --8<-- [end:load]


# --8<-- [start:footprint]
def four_bit_footprint(model):
    """Bytes of the 4-bit layers as stored (packed codes + quantisation state) and as fp32."""
    import bitsandbytes as bnb  # noqa: PLC0415 -- optional, heavy dependency: only the 4-bit path needs it

    stored = fp32 = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            weight = module.weight
            stored += weight.numel() * weight.element_size()  # two 4-bit codes per byte
            state = weight.quant_state
            stored += state.absmax.numel() * state.absmax.element_size()
            if state.state2 is not None:  # double quantisation: the scales' own scales
                stored += state.state2.absmax.numel() * state.state2.absmax.element_size()
            fp32 += 4 * state.shape.numel()
    return stored, fp32
    # --8<-- [end:footprint]


def gpu_memory_table(classify_rows, qlora_result):
    """The page's GPU table, from classify.json's rows and qlora.json (both run with --device cuda)."""
    peaks = [
        ("full fine-tuning", classify_rows["full fine-tuning"]["peak_gpu_bytes"]),
        ("LoRA r=8", classify_rows["LoRA r=8"]["peak_gpu_bytes"]),
        ("QLoRA (NF4) r=8", qlora_result["peak_gpu_bytes"]),
    ]
    lines = ["| method | peak GPU memory while training |", "|---|---:|"]
    lines += [f"| {name} | {peak / 2**20:.1f} MiB |" for name, peak in peaks]
    return "\n".join(lines) + "\n"


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="qlora.json")
    parser.add_argument("--device", help="cpu or cuda (default: the best available)")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    device = pick_device(args.device)
    if device.type not in ("cpu", "cuda"):
        parser.error(f"bitsandbytes 4-bit runs on cpu or cuda, not {device.type}; pass --device cpu")
    seed_everything(0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    tokenizer, model = load_4bit_classifier(args.model, device)
    stored, fp32 = four_bit_footprint(model)
    model = with_lora(model)
    train, test = sentiment_data(tokenizer)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # Pitfall: train before any inference under torch.no_grad(); see the Step 4 page.
    accuracy, seconds = fine_tune(model, tokenizer, train, test, lr=2e-3, device_type=device.type)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None

    print(f"device: {device.type}; 4-bit NF4 with double quantisation")
    print(f"quantised layers: {stored / 1e3:,.1f} kB stored vs {fp32 / 1e3:,.1f} kB in fp32 ({stored / fp32:.1%})")
    print(
        f"LoRA on the 4-bit model: {trainable:,} trainable parameters, accuracy {accuracy:.1%}, "
        f"training {seconds:.1f} s (total {time.perf_counter() - start:.1f} s)"
    )
    if peak is not None:
        print(f"peak GPU memory: {peak / 2**20:.1f} MiB")
    write_metrics(
        args.out,
        "qlora",
        {
            "device": device.type,
            "stored_bytes": stored,
            "fp32_bytes": fp32,
            "trainable": trainable,
            "accuracy": accuracy,
            "seconds": seconds,
            "peak_gpu_bytes": peak,
        },
    )


if __name__ == "__main__":
    main()
