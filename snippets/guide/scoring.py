"""Scoring text with a language model, as every step from Step 4 on does it: the
log-probability of an ending, the most likely of several endings, the log-probability of every
token of a batch of responses, the zero-shot sentiment classifier built on it, and perplexity;
and sampling the responses that Step 5 scores."""

# --8<-- [start:imports]
import math

import torch

# --8<-- [end:imports]


# --8<-- [start:log_prob]
@torch.no_grad()
def log_prob(model, tokenizer, prefix, ending):
    """log p(ending | prefix): the sum of the ending's token log-probabilities."""
    a, b = tokenizer(prefix)["input_ids"], tokenizer(ending)["input_ids"]
    room = model.config.n_positions - len(b) - 16  # the context window; 16 spare for virtual tokens
    a = a[-room:]  # a long few-shot prompt loses its oldest tokens first
    ids = torch.tensor([a + b], device=model.device)
    logp = model(input_ids=ids).logits.log_softmax(-1)[0]
    shift = logp.shape[0] - ids.shape[1]  # prompt tuning returns logits for its virtual tokens too
    return sum(logp[shift + len(a) - 1 + i, t].item() for i, t in enumerate(b))
    # --8<-- [end:log_prob]


# --8<-- [start:choose]
@torch.no_grad()
def choose(model, tokenizer, prefix, options, ending=" {}"):
    """The option whose ending (``ending`` filled with it) the model finds most likely after
    ``prefix``: log_prob of each, all computed in one batch, right-padded so that the padding
    comes after every real token and changes none of their log-probabilities."""
    a = tokenizer(prefix)["input_ids"]
    endings = [tokenizer(ending.format(option))["input_ids"] for option in options]
    rows = [a[-(model.config.n_positions - len(b) - 16) :] for b in endings]  # cut as log_prob cuts it
    width = max(len(r) + len(b) for r, b in zip(rows, endings))
    ids = torch.full((len(endings), width), tokenizer.pad_token_id)
    attention = torch.zeros_like(ids)
    for i, (r, b) in enumerate(zip(rows, endings)):
        ids[i, : len(r) + len(b)], attention[i, : len(r) + len(b)] = torch.tensor(r + b), 1
    logp = model(input_ids=ids.to(model.device), attention_mask=attention.to(model.device)).logits.log_softmax(-1)
    shift = logp.shape[1] - ids.shape[1]  # prompt tuning returns logits for its virtual tokens too
    scores = [
        sum(logp[i, shift + len(r) - 1 + j, t].item() for j, t in enumerate(b))
        for i, (r, b) in enumerate(zip(rows, endings))
    ]
    return options[max(range(len(options)), key=scores.__getitem__)]
    # --8<-- [end:choose]


# --8<-- [start:positions_of]
def positions_of(mask):
    """Each token's position, counted from its row's first real token (prompts are left-padded;
    padding gets position 0, and the mask hides it). GPT-2 in transformers counts positions
    from the first column unless it is told otherwise, padding included."""
    return (mask.cumsum(-1) - 1).clamp(min=0)
    # --8<-- [end:positions_of]


# --8<-- [start:completion_log_probs]
def completion_log_probs(model, input_ids, attention_mask, completion_mask):
    """Log-probability of each response token given everything before it (0 elsewhere). Rows
    may be padded on either side: positions come from the mask, as when the text was sampled."""
    positions = positions_of(attention_mask)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions).logits[:, :-1]
    token_lp = torch.log_softmax(logits.float(), -1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return token_lp * completion_mask[:, 1:]
    # --8<-- [end:completion_log_probs]


# --8<-- [start:p_positive]
def p_positive(model, tokenizer, story, first):
    """P(good day) from the language model: which ending does it find more likely,
    "<Name> was happy." or "<Name> was upset."? A softmax over the two log-probabilities."""
    good = log_prob(model, tokenizer, story, f" {first} was happy.")
    bad = log_prob(model, tokenizer, story, f" {first} was upset.")
    return 1 / (1 + math.exp(bad - good))
    # --8<-- [end:p_positive]


# --8<-- [start:perplexity]
@torch.no_grad()
def perplexity(model, tokenizer, texts):
    """exp(mean next-token loss over all tokens of the texts): how surprised the model is."""
    total, count = 0.0, 0
    for text in texts:
        ids = tokenizer(text, return_tensors="pt")["input_ids"][:, : model.config.n_positions]
        loss = model(input_ids=ids, labels=ids).loss.item()
        total, count = total + loss * (ids.shape[1] - 1), count + ids.shape[1] - 1
    return math.exp(total / count)
    # --8<-- [end:perplexity]


# --8<-- [start:sample_responses]
@torch.no_grad()
def sample_responses(model, tokenizer, prompts, max_new_tokens=48):
    """One continuation per prompt, sampled from the model's whole distribution (temperature
    1, no top-k), up to its end-of-text token. Prompts are left-padded, so every continuation
    starts at the same column. Returns (ids, the prompts' padded length)."""
    enc = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")
    ids = model.generate(
        **enc,
        do_sample=True,
        top_k=0,
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return ids, enc["input_ids"].shape[1]
    # --8<-- [end:sample_responses]
