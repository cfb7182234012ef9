"""Encoder-only, decoder-only and encoder-decoder transformers, built tiny from configs.

Run it: ``python snippets/step2_architecture/architectures.py`` (``--out DIR`` saves the
metrics). Nothing is downloaded: a config describes the shape, and the weights start random.
"""

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares

# isort: split
# --8<-- [start:build]
import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    GPT2Config,
    GPT2LMHeadModel,
    T5Config,
    T5ForConditionalGeneration,
)

VOCAB, WIDTH, LAYERS, HEADS = 1000, 64, 2, 4  # tiny on purpose: the shapes are the lesson


def build_models():
    """One model per family, the same size, random weights."""
    bert = BertForMaskedLM(  # encoder-only: every token sees every other token
        BertConfig(
            vocab_size=VOCAB,
            hidden_size=WIDTH,
            num_hidden_layers=LAYERS,
            num_attention_heads=HEADS,
            intermediate_size=4 * WIDTH,
        )
    )
    gpt2 = GPT2LMHeadModel(  # decoder-only: each token sees only the tokens before it
        GPT2Config(
            vocab_size=VOCAB,
            n_embd=WIDTH,
            n_layer=LAYERS,
            n_head=HEADS,
            n_positions=128,
            bos_token_id=VOCAB - 1,
            eos_token_id=VOCAB - 1,
        )
    )
    t5 = T5ForConditionalGeneration(  # encoder-decoder: a bidirectional reader, a causal writer
        T5Config(
            vocab_size=VOCAB,
            d_model=WIDTH,
            d_kv=WIDTH // HEADS,
            d_ff=4 * WIDTH,
            num_layers=LAYERS,
            num_heads=HEADS,
            decoder_start_token_id=0,
        )
    )
    return {"BERT (encoder)": bert, "GPT-2 (decoder)": gpt2, "T5 (encoder-decoder)": t5}
    # --8<-- [end:build]


# --8<-- [start:probe]
def outputs(model, ids):
    """The model's per-token logits for ``ids`` (T5 reads and writes the same ids)."""
    with torch.no_grad():
        if model.config.is_encoder_decoder:
            return model(input_ids=ids, decoder_input_ids=ids).logits
        return model(input_ids=ids).logits


def sees_the_future(model, ids):
    """Change the last token and measure how much the FIRST position's output moves,
    relative to the spread of that output (0 = not at all).

    A bidirectional encoder lets position 0 attend to the last token, so its output changes;
    a causal decoder cannot look ahead, so position 0 stays exactly the same.
    """
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % VOCAB
    before, after = outputs(model, ids)[:, 0], outputs(model, changed)[:, 0]
    return ((after - before).norm() / (before - before.mean()).norm()).item()
    # --8<-- [end:probe]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="architectures.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    seed_everything(args.seed)
    # --8<-- [start:table]
    ids = torch.randint(0, VOCAB, (1, 8))  # one sequence of 8 token ids
    rows = {}
    print("| model | parameters | output for 8 tokens | position 0 sees the last token (relative change) |")
    print("|---|---:|---|---:|")
    for name, model in build_models().items():
        model.eval()
        shift = sees_the_future(model, ids)
        n_params = sum(p.numel() for p in model.parameters())
        shape = tuple(outputs(model, ids).shape)
        print(f"| {name} | {n_params:,} | logits {shape} | {'yes' if shift > 0 else 'no'} ({shift:.1e}) |")
        rows[name] = {"parameters": n_params, "output_shape": list(shape), "future_shift": shift}
    # --8<-- [end:table]
    write_metrics(args.out, "architectures", rows)


if __name__ == "__main__":
    main()
