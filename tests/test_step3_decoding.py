"""Step 3: decoding written out, proven equal to transformers' processors and generate()."""

import pytest
import torch
from transformers import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from guide.model import load_causal_lm
from step3_pretraining.decoding import (
    beam_search,
    distinct_2,
    generate,
    greedy,
    min_p,
    openings,
    repeats,
    repetition_penalty,
    sampler,
    self_bleu,
    temperature,
    top_k,
    top_p,
)


@pytest.fixture(scope="module")
def run(run_snippet, guide_model):
    return run_snippet("step3_pretraining/decoding.py")


@pytest.fixture(scope="module")
def guide(guide_model):
    return load_causal_lm()


def _logits(seed=0, rows=16, vocab=200):
    return torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed)) * 3


def _same(ours, theirs):
    """The same tokens removed, and the same values for the rest."""
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    kept = ~torch.isinf(ours)
    assert (ours[kept] - theirs[kept]).abs().max() < 1e-6


@pytest.mark.parametrize("t", [0.3, 0.7, 1.0, 1.8])
def test_temperature_equals_transformers(t):
    _same(temperature(_logits(), t), TemperatureLogitsWarper(t)(None, _logits()))


@pytest.mark.parametrize("k", [1, 5, 50])
def test_top_k_equals_transformers(k):
    _same(top_k(_logits(), k), TopKLogitsWarper(k)(None, _logits()))


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("seed", range(3))
def test_top_p_equals_transformers(p, seed):
    _same(top_p(_logits(seed), p), TopPLogitsWarper(p)(None, _logits(seed)))


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5])
def test_min_p_equals_transformers(p):
    _same(min_p(_logits(), p), MinPLogitsWarper(p)(None, _logits()))


@pytest.mark.parametrize("penalty", [0.8, 1.3, 2.0])
def test_repetition_penalty_equals_transformers(penalty):
    ids = torch.randint(0, 200, (16, 12), generator=torch.Generator().manual_seed(2))
    _same(repetition_penalty(_logits(), ids, penalty), RepetitionPenaltyLogitsProcessor(penalty)(ids, _logits()))


def _batch(tokenizer, n=6):
    return tokenizer(openings(n), return_tensors="pt", padding=True, padding_side="left")


def test_greedy_equals_generate(guide):
    tokenizer, model = guide
    enc = _batch(tokenizer)
    ours, _ = generate(
        model, enc["input_ids"], enc["attention_mask"], greedy, 24, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    theirs = model.generate(
        **enc,
        do_sample=False,
        max_new_tokens=24,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    assert torch.equal(ours, theirs[:, : ours.shape[1]])


def test_sampling_with_top_p_equals_generate_under_one_seed(guide):
    tokenizer, model = guide
    enc = _batch(tokenizer)
    torch.manual_seed(7)
    pick = sampler(lambda z: top_p(z, 0.9))
    ours, _ = generate(
        model, enc["input_ids"], enc["attention_mask"], pick, 24, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    torch.manual_seed(7)
    theirs = model.generate(
        **enc,
        do_sample=True,
        top_p=0.9,
        top_k=0,
        max_new_tokens=24,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    assert torch.equal(ours, theirs[:, : ours.shape[1]])


def test_beam_search_equals_generate_when_no_beam_can_end(guide):
    """With the end-of-text token suppressed, both keep the 4 likeliest continuations of every
    length and return the likeliest; generate() differs only in how it retires ended beams."""
    tokenizer, model = guide
    ids = tokenizer(openings(3)[2], return_tensors="pt")["input_ids"]
    no_eos = model.generation_config.__class__(suppress_tokens=[tokenizer.eos_token_id])
    ours = beam_search(_SuppressEos(model, tokenizer.eos_token_id), ids, 4, 16)
    theirs = model.generate(
        ids,
        generation_config=no_eos,
        num_beams=4,
        do_sample=False,
        max_new_tokens=16,
        pad_token_id=tokenizer.pad_token_id,
    )
    assert torch.equal(ours, theirs[0])


class _SuppressEos(torch.nn.Module):
    """The model with the end-of-text token's logit at -inf (what suppress_tokens does)."""

    def __init__(self, model, eos_id):
        super().__init__()
        self.model, self.eos_id = model, eos_id

    def forward(self, **kw):
        out = self.model(**kw)
        out.logits[..., self.eos_id] = float("-inf")
        return out


def test_the_diversity_measures_can_tell_apart_copies_from_variety():
    assert distinct_2(["a b c", "a b c"]) == 0.5 and distinct_2(["a b c", "d e f"]) == 1.0
    assert self_bleu([["the cat sat on the mat", "the cat sat on the mat"]]) == pytest.approx(1.0)
    assert self_bleu([["the cat sat on the mat", "a dog ran in a park"]]) < 0.1
    assert repeats(["Ana was happy. Ana was happy."]) == 1 and repeats(["On Monday, Ana was happy."]) == 0


def test_page_shows_this_output(run, page_output):
    page_output("step3_decoding", run.stdout, run.figures())


def test_temperature_trades_quality_for_diversity(run):
    t = run.metrics("decoding")["table"]
    cold, warm, hot = t["temperature 0.5"], t["temperature 1.0"], t["temperature 1.5"]
    assert cold["distinct-2"] < warm["distinct-2"] < hot["distinct-2"]
    assert cold["stories"] > warm["stories"] + 0.15 and hot["stories"] < 0.2
    assert hot["perplexity"] > 2 * warm["perplexity"]


def test_greedy_writes_nearly_one_ending_for_every_opening(run):
    t = run.metrics("decoding")["table"]
    assert t["greedy"]["stories"] > 0.9
    assert t["greedy"]["distinct-2"] < t["temperature 1.0"]["distinct-2"] / 2


def test_truncation_keeps_the_story_and_min_p_rescues_a_high_temperature(run):
    t = run.metrics("decoding")["table"]
    assert t["top-p 0.5"]["stories"] > t["temperature 1.0"]["stories"] + 0.2
    assert t["temperature 1.5, min-p 0.1"]["stories"] > t["temperature 1.5"]["stories"] + 0.4


def test_a_bad_prompt_count_is_refused(refuses, tmp_path):
    proc = refuses("step3_pretraining/decoding.py", "--prompts", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "--prompts must be between 1 and 200" in proc.stderr
