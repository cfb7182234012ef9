"""Two pre-training objectives on the same data: causal LM (GPT) and masked LM (BERT).

Run it: ``python snippets/step3_pretraining/objectives.py`` (``--out DIR`` saves
objectives.json). Both models are the same size and see the same blocks for the same number of
steps; what differs is what they are asked to predict, and so what they can do afterwards.
"""

# --8<-- [start:imports]
import time

import torch
from transformers import BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling

# --8<-- [end:imports]
# isort: split
from guide import cli, seed_everything, write_metrics
from step3_pretraining.pretrain import learning_rate, make_model, read_corpus, token_blocks, train_tokenizer


# --8<-- [start:mlm]
def make_bert(tokenizer, width=128, layers=2, heads=4, context=128):
    return BertForMaskedLM(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=width,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=4 * width,
            max_position_embeddings=context,
            pad_token_id=tokenizer.pad_token_id,
        )
    )


def masked_batches(tokenizer, blocks):
    """BERT's recipe, via DataCollatorForLanguageModeling: pick 15% of positions; of those, 80%
    become <mask>, 10% a random token, 10% stay; the loss is computed on the picked ones only
    (every other label is -100, which the loss ignores)."""
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=0.15)
    return lambda idx: collator([{"input_ids": blocks[i]} for i in idx.tolist()])
    # --8<-- [end:mlm]


def causal_batches(blocks):
    return lambda idx: {"input_ids": blocks[idx], "labels": blocks[idx]}


def fit(model, batch_fn, n_blocks, steps, seed=0, batch_size=16, peak_lr=3e-3):
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.1)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, peak_lr, steps // 10)
        loss = model(**batch_fn(torch.randint(n_blocks, (batch_size,), generator=g))).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()


@torch.no_grad()
def mean_loss(model, batch_fn, n_blocks, seed=1):
    torch.manual_seed(seed)  # the same random masks for every evaluation
    losses, supervised = [], []
    for start in range(0, n_blocks, 32):
        batch = batch_fn(torch.arange(start, min(start + 32, n_blocks)))
        losses.append(model(**batch).loss.item())
        supervised.append((batch["labels"] != -100).float().mean().item())
    return sum(losses) / len(losses), sum(supervised) / len(supervised)


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="objectives.json")
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    seed_everything(0)
    texts = read_corpus()  # the cleaned small-world corpus, split into train and validation
    tokenizer = train_tokenizer(texts["train"])
    train, val = (token_blocks(tokenizer, texts[s], block_size=64) for s in ("train", "validation"))
    start = time.perf_counter()

    # --8<-- [start:compare]
    gpt = fit(make_model(tokenizer), causal_batches(train), len(train), args.steps)
    # post-LN BERT needs a gentler learning rate than pre-LN GPT-2 to train stably
    bert = fit(make_bert(tokenizer), masked_batches(tokenizer, train), len(train), args.steps, peak_lr=1e-3)
    gpt_loss, gpt_share = mean_loss(gpt, causal_batches(val), len(val))
    bert_loss, bert_share = mean_loss(bert, masked_batches(tokenizer, val), len(val))

    # What each can do: GPT continues a text; BERT fills a gap using both sides.
    prompt = tokenizer("Priya Hale is a", return_tensors="pt")["input_ids"]
    continuation = tokenizer.decode(
        gpt.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)[0]
    )
    cloze = "Priya Hale is a nurse in Ashford. She has a <mask> called Biscuit."
    ids = tokenizer(cloze, return_tensors="pt")["input_ids"]
    at = (ids[0] == tokenizer.mask_token_id).nonzero().item()
    with torch.no_grad():
        top = bert(input_ids=ids).logits[0, at].softmax(-1).topk(3)
    fills = [(tokenizer.decode([i]).strip(), round(p, 2)) for p, i in zip(top.values.tolist(), top.indices.tolist())]
    # --8<-- [end:compare]

    print(f"{args.steps} steps each, same blocks, same size ({time.perf_counter() - start:.1f} s)")
    print(f"{'objective':<22} {'positions with a loss':>22} {'validation loss':>16}")
    print(f"{'causal LM (GPT-2)':<22} {gpt_share:>21.0%} {gpt_loss:>16.2f}")
    print(f"{'masked LM (BERT)':<22} {bert_share:>21.0%} {bert_loss:>16.2f}")
    print(f"GPT-2 continues 'Priya Hale is a': {continuation!r}")
    print(f"BERT fills 'She has a <mask> called Biscuit.': {fills}")
    write_metrics(
        args.out,
        "objectives",
        {
            "causal": {"loss": gpt_loss, "supervised_share": gpt_share},
            "masked": {"loss": bert_loss, "supervised_share": bert_share},
            "continuation": continuation,
            "fills": fills,
        },
    )


if __name__ == "__main__":
    main()
