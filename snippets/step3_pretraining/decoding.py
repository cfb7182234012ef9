"""Decoding: from next-token probabilities to text, with greedy search, beams and sampling.

Run it: ``python snippets/step3_pretraining/decoding.py`` (``--model NAME_OR_PATH``; ``--out DIR``
saves decoding.json). The guide's model continues held-out story openings under each decoding
setting, and the run prints, for each, how varied the continuations are (distinct-2,
self-BLEU) and how good (the share that are stories by Step 5's rule, their mean rule score,
and their perplexity under the model).
"""

# --8<-- [start:imports]
import torch

from guide.scoring import positions_of  # each token's position, from its row's first real token

# --8<-- [end:imports]
# isort: split
import math
import time
from collections import Counter

from sacrebleu.metrics import BLEU
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.data import stories
from guide.model import load_causal_lm
from guide.rule import judge
from step3_pretraining.pretrain import guide_model


# --8<-- [start:warpers]
# Each takes the next-token logits (batch, vocab) and returns them reshaped; -inf removes a token.
def temperature(logits, t):
    """Below 1 sharpens the distribution toward the likeliest tokens, above 1 flattens it."""
    return logits / t


def top_k(logits, k):
    """Keep the k likeliest tokens."""
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p(logits, p):
    """Nucleus sampling: keep the likeliest tokens until their probability adds up to p."""
    ranked, order = logits.sort(dim=-1, descending=True)
    probs = ranked.softmax(-1)
    above = probs.cumsum(-1) - probs  # the probability of the tokens ranked above each one
    drop = above >= p
    drop[..., 0] = False  # the likeliest token always stays
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def min_p(logits, p):
    """Keep the tokens at least p times as likely as the likeliest one."""
    probs = logits.softmax(-1)
    return logits.masked_fill(probs < p * probs.max(-1, keepdim=True).values, float("-inf"))


def repetition_penalty(logits, ids, penalty):
    """Make every token already in the text less likely (CTRL's penalty): a positive logit is
    divided by the penalty, a negative one multiplied."""
    seen = logits.gather(-1, ids)
    return logits.scatter(-1, ids, torch.where(seen < 0, seen * penalty, seen / penalty))
    # --8<-- [end:warpers]


# --8<-- [start:loop]
def greedy(ids, logits):
    return logits.argmax(-1, keepdim=True)


def sampler(*warpers, penalty=None):
    """Draw the next token from the logits after the warpers, in order (and the penalty first)."""

    def pick(ids, logits):
        if penalty:
            logits = repetition_penalty(logits, ids, penalty)
        for warp in warpers:
            logits = warp(logits)
        return torch.multinomial(logits.softmax(-1), num_samples=1)

    return pick


@torch.no_grad()
def generate(model, ids, mask, pick, max_new_tokens, eos_id, pad_id):
    """Append one token at a time, chosen by pick(ids, logits), until every row has written the
    end-of-text token. Prompts are left-padded: ``mask`` marks real tokens, and positions count
    from each row's first real token. The model keeps the keys and values it computed for the
    tokens so far (its KV cache), so each step feeds it only the newest token. Returns the ids
    and the mask (after a row's end: padding)."""
    done, cache, new = torch.zeros(len(ids), dtype=torch.bool), None, ids
    for _ in range(max_new_tokens):
        positions = positions_of(mask)[:, -new.size(1) :]
        out = model(input_ids=new, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
        cache = out.cache
        new = pick(ids, out.logits[:, -1]).masked_fill(done[:, None], pad_id)
        ids, mask = torch.cat([ids, new], -1), torch.cat([mask, (~done[:, None]).long()], -1)
        done |= new[:, 0] == eos_id
        if done.all():
            break
    return ids, mask
    # --8<-- [end:loop]


# --8<-- [start:beam]
@torch.no_grad()
def beam_search(model, ids, beams, max_new_tokens, eos_id=None):
    """Keep the ``beams`` likeliest continuations of one prompt (1, n), extend each by every
    token, keep the ``beams`` likeliest of those, and so on; return the likeliest at the end.
    A beam that has written the end-of-text token keeps its score and only pads from then on."""
    seqs, scores, ended = ids, torch.zeros(1), torch.zeros(1, dtype=torch.bool)
    for _ in range(max_new_tokens):
        log_probs = model(input_ids=seqs).logits[:, -1].log_softmax(-1)
        if eos_id is not None:  # an ended beam: its only continuation is free padding
            log_probs[ended] = float("-inf")
            log_probs[ended, eos_id] = 0.0
        vocab = log_probs.size(-1)
        scores, flat = (scores[:, None] + log_probs).flatten().topk(beams)
        seqs = torch.cat([seqs[flat // vocab], (flat % vocab)[:, None]], -1)
        ended = seqs[:, -1] == eos_id if eos_id is not None else ended.new_zeros(len(seqs))
        if ended.all():
            break
    return seqs[0]
    # --8<-- [end:beam]


def openings(n):
    """Held-out stories cut before their event: the model writes "On <day>, <event>. <Name>
    <feeling>." and the rule can score that."""
    out = []
    for r in stories("test", n):
        head, _, _ = r["text"].partition(" On ")
        out.append(head)
    return out


def distinct_2(texts):
    """Distinct word bigrams over all bigrams (Li et al., 2016): 1 means no pair repeats."""
    pairs = [tuple(w[i : i + 2]) for t in texts for w in [t.split()] for i in range(len(w) - 1)]
    return len(set(pairs)) / max(1, len(pairs))


def self_bleu(groups):
    """Mean BLEU of each sample against the other samples for the same prompt (Zhu et al.,
    2018): 1 means every sample is the same."""
    bleu, scores = BLEU(effective_order=True), []
    for group in groups:
        for i, text in enumerate(group):
            others = group[:i] + group[i + 1 :]
            scores.append(bleu.sentence_score(text, others).score / 100 if others else 1.0)
    return sum(scores) / len(scores)


def repeats(texts):
    """The share of continuations in which a run of three words comes twice ("the the the",
    "was happy. Ana was happy"): the loops that likely-text search falls into."""

    def repeated(words):
        return max(Counter(zip(words, words[1:], words[2:])).values(), default=0) > 1

    return sum(repeated(t.lower().split()) for t in texts) / len(texts)


@torch.no_grad()
def perplexity_of(model, ids, mask, start):
    """exp(mean negative log-likelihood) of the generated tokens under the model itself."""
    positions = positions_of(mask)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, start - 1 : -1]
    nll = -logits.log_softmax(-1).gather(-1, ids[:, start:, None]).squeeze(-1)
    kept = mask[:, start:].bool()
    return math.exp(nll[kept].mean().item())


SETTINGS = {  # name: how to pick the next token (None: beam search)
    "greedy": greedy,
    "beam search (4 beams)": None,
    "temperature 0.5": sampler(lambda z: temperature(z, 0.5)),
    "temperature 1.0": sampler(),
    "temperature 1.5": sampler(lambda z: temperature(z, 1.5)),
    "top-k 5": sampler(lambda z: top_k(z, 5)),
    "top-p 0.5": sampler(lambda z: top_p(z, 0.5)),
    "top-p 0.9": sampler(lambda z: top_p(z, 0.9)),
    "min-p 0.1": sampler(lambda z: min_p(z, 0.1)),
    "temperature 1.5, min-p 0.1": sampler(lambda z: temperature(z, 1.5), lambda z: min_p(z, 0.1)),
    "repetition penalty 1.5": sampler(penalty=1.5),
}


def measure(model, tokenizer, prompts, samples=4, max_new_tokens=32):
    """Each setting's continuations of every prompt (one for the deterministic ones), scored."""
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    table, examples = {}, {}
    for name, pick in SETTINGS.items():
        seed_everything(0)
        deterministic = pick is greedy or pick is None
        n = 1 if deterministic else samples
        rows = [p for p in prompts for _ in range(n)]
        enc = tokenizer(rows, return_tensors="pt", padding=True, padding_side="left")
        start = enc["input_ids"].shape[1]
        if pick is None:
            outs = [
                beam_search(model, tokenizer(p, return_tensors="pt")["input_ids"], 4, max_new_tokens, eos) for p in rows
            ]
            ids, mask = _left_pad(outs, [len(tokenizer(p)["input_ids"]) for p in rows], start, pad, eos)
        else:
            ids, mask = generate(model, enc["input_ids"], enc["attention_mask"], pick, max_new_tokens, eos, pad)
        texts = [tokenizer.decode(row[start:][m[start:].bool()], skip_special_tokens=True) for row, m in zip(ids, mask)]
        groups = [texts[i : i + n] for i in range(0, len(texts), n)]
        table[name] = {
            "distinct-2": distinct_2(texts),
            "self-BLEU": 1.0 if deterministic else self_bleu(groups),
            "stories": sum(judge(t) > -2 for t in texts) / len(texts),
            "rule": sum(judge(t) for t in texts) / len(texts),
            "perplexity": perplexity_of(model, ids, mask, start),
            "repeats": repeats(texts),
        }
        examples[name] = texts[0]
    return table, examples


def _left_pad(outs, prompt_lengths, start, pad, eos):
    """Beam search's rows (each its own prompt length) in generate()'s layout: prompts
    left-padded to ``start``, the continuation after, up to and including the end-of-text."""
    rows, masks = [], []
    for seq, n in zip(outs, prompt_lengths):
        new = seq[n:].tolist()
        new = new[: new.index(eos) + 1] if eos in new else new
        rows.append([pad] * (start - n) + seq[:n].tolist() + new)
        masks.append([0] * (start - n) + [1] * (n + len(new)))
    width = max(map(len, rows))
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([m + [0] * (width - len(m)) for m in masks])
    return ids, mask


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="decoding.json")
    parser.add_argument("--prompts", type=int, default=32, help="held-out story openings (default 32)")
    args = parser.parse_args(argv)
    if not 1 <= args.prompts <= 200:
        parser.error("--prompts must be between 1 and 200")

    logging.set_verbosity_error()
    tokenizer, model = load_causal_lm(args.model or guide_model())
    prompts = openings(args.prompts)
    start = time.perf_counter()
    table, examples = measure(model, tokenizer, prompts)
    seconds = time.perf_counter() - start
    print(f"{len(prompts)} held-out story openings; 4 samples each (1 for greedy and beam search); {seconds:.1f} s")
    print(
        "| decoding | distinct-2 | self-BLEU | stories | rule score | perplexity | repeats 3 words |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    for name, r in table.items():
        print(
            f"| {name} | {r['distinct-2']:.2f} | {r['self-BLEU']:.2f} | {r['stories']:.0%} | {r['rule']:+.2f} "
            f"| {r['perplexity']:.2f} | {r['repeats']:.0%} |"
        )
    print(f"prompt: {prompts[0]!r}")
    for name in ("greedy", "beam search (4 beams)", "temperature 1.5"):
        print(f"  {name}: {examples[name]!r}")
    write_metrics(args.out, "decoding", {"table": table, "prompts": len(prompts), "seconds": seconds})


if __name__ == "__main__":
    main()
