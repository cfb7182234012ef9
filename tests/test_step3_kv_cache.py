"""Step 3: generation with a KV cache computes what generation without one does."""

import pytest
import torch

from guide.data import openings
from guide.model import load_causal_lm
from step2_architecture.gpt import from_gpt2
from step3_pretraining.kv_cache import cache_bytes, forward_with_cache, greedy


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step3_pretraining/kv_cache.py")


def test_the_cache_changes_no_token_and_matches_its_formula(run):
    m = run.metrics("kv_cache")
    assert m["same_tokens"] == m["prompts"]
    assert m["cache_tensor_bytes"] == m["cache_formula_bytes"]


@pytest.fixture(scope="module")
def trained(guide_model):
    tokenizer, hf = load_causal_lm()
    return tokenizer, from_gpt2(hf).eval()


def test_feeding_the_tokens_in_pieces_gives_the_logits_of_one_pass(trained):
    tokenizer, gpt = trained
    ids = tokenizer(openings("test", 2), return_tensors="pt", padding=True)["input_ids"][:, :20]
    whole = gpt(ids)
    first, cache = forward_with_cache(gpt, ids[:, :8])  # a prefill, then one token at a time
    pieces = [first]
    for i in range(8, ids.size(1)):
        logits, cache = forward_with_cache(gpt, ids[:, i : i + 1], cache)
        pieces.append(logits)
    assert (torch.cat(pieces, dim=1) - whole).abs().max() < 1e-5
    assert cache[0][0].shape == (2, 4, ids.size(1), 32)  # (batch, KV heads, tokens, head size)


def test_a_cache_that_forgets_the_past_is_caught(trained):
    """Keep only the newest key and value of each layer and the trained model writes other
    tokens: the comparison can fail."""
    tokenizer, gpt = trained
    ids = tokenizer(openings("test", 1)[0], return_tensors="pt")["input_ids"]
    right, _ = greedy(gpt, ids, 12)
    logits, cache = forward_with_cache(gpt, ids)
    out = [logits[:, -1].argmax(-1, keepdim=True)]
    for _ in range(11):
        logits, cache = forward_with_cache(gpt, out[-1], [(k[:, :, -1:], v[:, :, -1:]) for k, v in cache])
        out.append(logits[:, -1].argmax(-1, keepdim=True))
    assert not torch.equal(torch.cat([ids, *out], 1), right)


def test_grouped_query_attention_divides_the_cache_by_the_group_size():
    assert cache_bytes(32, 32, 128, 1, 2) == 4 * cache_bytes(32, 8, 128, 1, 2) == 512 * 1024


def test_page_shows_this_output(run, page_output):
    page_output("step3_kv_cache", run.stdout, run.figures())


def test_a_length_past_the_context_is_refused(refuses, tmp_path):
    proc = refuses("step3_pretraining/kv_cache.py", "--length", "1024", cwd=tmp_path)
    assert proc.returncode == 2 and "--length must be between 64 and 512" in proc.stderr
