"""A first taste of a language model: text -> tokens -> ids -> next-token probabilities -> text.

Run it: ``python snippets/step1_basics/first_taste.py``. With no options it builds a tiny
tokenizer and GPT-2 on a 1.4 kB text the repository ships and trains it for a few seconds on
the CPU; ``--model gpt2`` (or any causal LM id or local folder) uses a pre-trained model instead.
"""

import time
from pathlib import Path

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.model import load_causal_lm

# isort: split
# --8<-- [start:setup]
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

PROMPT = "The cat sat on the"
# --8<-- [end:setup]
CORPUS = Path(__file__).resolve().parent.parent / "data" / "first_taste.txt"


# --8<-- [start:build]
def build_tiny_model(text, steps=300, seed=0):
    """Train a byte-level BPE tokenizer and a 2-layer GPT-2 on ``text``, from nothing."""
    torch.manual_seed(seed)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [text], vocab_size=400, min_frequency=2, special_tokens=["<|endoftext|>"], show_progress=False
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>"
    )
    eos = tokenizer.eos_token_id
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=64,
            n_embd=64,
            n_layer=2,
            n_head=4,
            bos_token_id=eos,
            eos_token_id=eos,
        )
    )

    ids = torch.tensor(tokenizer(text)["input_ids"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):  # each step: 16 random 32-token windows of the text
        starts = torch.randint(0, len(ids) - 33, (16,))
        batch = torch.stack([ids[s : s + 33] for s in starts])
        # labels = inputs: the model shifts them by one inside, so position t predicts t+1
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return tokenizer, model, loss.item()
    # --8<-- [end:build]


# --8<-- [start:taste]
def taste(tokenizer, model, prompt=PROMPT, new_tokens=12):
    tokens = tokenizer.tokenize(prompt)  # 1. text -> tokens (Ġ marks a leading space)
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]  # 2. tokens -> ids
    print(f"text:   {prompt!r}")
    print(f"tokens: {tokens}")
    print(f"ids:    {ids[0].tolist()}")

    with torch.no_grad():  # 3. ids -> a score for every token in the vocabulary
        logits = model(input_ids=ids).logits[0, -1]
    probs = logits.softmax(-1)  # scores -> probabilities of the NEXT token
    top = probs.topk(5)
    print("most likely next tokens:")
    for p, i in zip(top.values.tolist(), top.indices.tolist()):
        print(f"  {tokenizer.decode([i])!r:>12}  {p:.3f}")

    # 4. generate: append the most likely token, feed the longer text back in, repeat
    out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    print(f"continuation: {tokenizer.decode(out[0])!r}")
    return {
        "tokens": tokens,
        "top_token": tokenizer.decode([top.indices[0].item()]),
        "top_prob": top.values[0].item(),
        "continuation": tokenizer.decode(out[0]),
    }
    # --8<-- [end:taste]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="first_taste.json")
    parser.add_argument("--model", help="a Hugging Face model id or a local folder (default: build one)")
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--steps", type=int, default=300, help="training steps for the tiny model")
    parser.add_argument("--save", help="save the tiny model and tokenizer to this folder")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if not args.prompt.strip():
        parser.error("--prompt must contain some text")

    seed_everything(0)
    start = time.perf_counter()
    if args.model:
        tokenizer, model = load_causal_lm(args.model)
        print(f"loaded {args.model}")
    else:
        tokenizer, model, loss = build_tiny_model(CORPUS.read_text(encoding="utf-8"), steps=args.steps)
        n_params = sum(p.numel() for p in model.parameters())
        print(
            f"built a {n_params:,}-parameter GPT-2 and a {len(tokenizer)}-token vocabulary; "
            f"final training loss {loss:.2f} ({time.perf_counter() - start:.1f} s)"
        )
        if args.save:
            tokenizer.save_pretrained(args.save)
            model.save_pretrained(args.save)
            print(f"saved to {args.save}")
    result = taste(tokenizer, model, args.prompt)
    result["parameters"] = sum(p.numel() for p in model.parameters())
    if not args.model:
        result["corpus_bytes"] = CORPUS.stat().st_size  # the text the tiny model learned from
    write_metrics(args.out, "first_taste", result)


if __name__ == "__main__":
    main()
