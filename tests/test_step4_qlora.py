"""Step 4: QLoRA trains LoRA on a 4-bit model, on this CPU, and the 4-bit layers are small."""

import json

import pytest
import torch
from bitsandbytes.functional import has_avx512bf16

from step4_finetuning.classify import fine_tune, sentiment_data, with_lora
from step4_finetuning.qlora import gpu_memory_table, load_4bit_classifier


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step4_finetuning/qlora.py")


def test_four_bit_layers_take_at_most_a_fifth_of_their_fp32_size(run):
    m = run.metrics("qlora")
    assert m["stored_bytes"] <= 0.20 * m["fp32_bytes"]


def test_lora_on_the_4bit_model_learns_the_task(run):
    m = run.metrics("qlora")
    assert m["accuracy"] >= 0.95 and m["device"] == "cpu"


def test_page_shows_this_output(run, page_output):
    page_output("step4_qlora", run.stdout, run.figures())


def test_pitfall_inference_under_no_grad_before_training_breaks_training_on_avx512_bf16_cpus(guide_model):
    """The pitfall the page documents (bitsandbytes 0.50). On a CPU with AVX-512 BF16, the first
    forward pass under no_grad repacks the 4-bit weights in place for its fast kernel, and
    training afterwards fails; other CPUs keep the weights as they are and train. If the first
    branch fails because training now works, the library fixed it: update the page's warning."""

    torch.manual_seed(0)
    tokenizer, model = load_4bit_classifier(None, torch.device("cpu"))
    model = with_lora(model)
    train, test = sentiment_data(tokenizer, n_train=32, n_test=16)
    with torch.no_grad():
        model(input_ids=torch.tensor([train[0]["input_ids"]]))
    if has_avx512bf16():
        with pytest.raises(RuntimeError, match="in-place operation"):
            fine_tune(model, tokenizer, train, test, lr=2e-3, epochs=1)
    else:
        fine_tune(model, tokenizer, train, test, lr=2e-3, epochs=1)  # no repacking: it trains


@pytest.mark.gpu
def test_peak_gpu_memory_full_vs_lora_vs_qlora(example, tmp_path, page_output):
    example("step4_finetuning/classify.py", "--device", "cuda", "--out", str(tmp_path), cwd=tmp_path, timeout=300)
    example("step4_finetuning/qlora.py", "--device", "cuda", "--out", str(tmp_path), cwd=tmp_path, timeout=300)
    rows = json.loads((tmp_path / "classify.json").read_text())["rows"]
    qlora = json.loads((tmp_path / "qlora.json").read_text())
    peaks = {
        "full": rows["full fine-tuning"]["peak_gpu_bytes"],
        "lora": rows["LoRA r=8"]["peak_gpu_bytes"],
        "qlora": qlora["peak_gpu_bytes"],
    }
    print("peak GPU MiB:", {k: round(v / 2**20, 1) for k, v in peaks.items()})
    assert qlora["accuracy"] >= 0.95 and all(v > 0 for v in peaks.values())
    assert peaks["lora"] < peaks["full"]
    page_output("step4_gpu_memory", gpu_memory_table(rows, qlora))
