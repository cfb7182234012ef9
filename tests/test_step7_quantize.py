"""Step 7: int8 dynamic quantisation: half the size, the same quality; on this tiny model, no faster."""

import torch
from torch.ao.nn.quantized.dynamic import Linear as QuantisedLinear

from guide.model import load_causal_lm
from step7_deployment.quantize import conv1d_to_linear, int8_dynamic


def test_conv1d_swap_changes_nothing_and_int8_changes_little(guide_model):
    tokenizer, model = load_causal_lm()
    ids = tokenizer("Mara Lane is a nurse in Ashford. On Monday,", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        before = model(ids).logits
        swapped = conv1d_to_linear(load_causal_lm(log=lambda msg: None)[1])
        assert not any(type(m).__name__ == "Conv1D" for m in swapped.modules())
        torch.testing.assert_close(swapped(ids).logits, before, atol=1e-5, rtol=1e-5)  # a pure re-layout
        quantised = int8_dynamic(swapped)
        # Every nn.Linear of the swapped model (the projections and the LM head) became an int8 one,
        # and none is left in float; the swapped model itself is untouched (quantize_dynamic copies)
        floats = {name for name, m in swapped.named_modules() if isinstance(m, torch.nn.Linear)}
        int8 = {name: m for name, m in quantised.named_modules() if isinstance(m, QuantisedLinear)}
        assert floats and set(int8) == floats
        assert all(m.weight().dtype == torch.qint8 for m in int8.values())
        assert not any(isinstance(m, torch.nn.Linear) for m in quantised.modules())
        after = quantised(ids).logits
    assert (after - before).abs().max() < 0.5  # close, not equal: 8-bit weights
    assert (after.argmax(-1) == before.argmax(-1)).float().mean() > 0.9


def test_the_table_shows_half_the_size_and_the_same_quality(run_snippet, guide_model, page_output):
    run = run_snippet("step7_deployment/quantize.py")
    page_output("step7_quantize", run.stdout, run.figures())
    r = run.metrics("quantize")
    fp32, int8 = r["float32"], r["int8 dynamic"]
    assert int8["size_mb"] < 0.6 * fp32["size_mb"]
    assert abs(int8["perplexity"] - fp32["perplexity"]) < 0.01 * fp32["perplexity"]
    # "within a point" (plus a hair: in floating point, 0.96 - 0.95 is 0.010000000000000009)
    assert abs(int8["sentiment_accuracy"] - fp32["sentiment_accuracy"]) <= 0.01 + 1e-9
    assert 0.6 <= int8["same_greedy_answer"] < 1.0 and fp32["same_greedy_answer"] == 1.0  # "a minority differ"
    assert r["mlp_2048"]["int8_ms"] < r["mlp_2048"]["float32_ms"] / 1.5  # where matrices are big, int8 wins
