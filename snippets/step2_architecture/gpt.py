"""The whole GPT, assembled from this step's own pieces and proven equal to transformers' GPT-2.

Run it: ``python snippets/step2_architecture/gpt.py`` (``--model FOLDER_OR_ID`` copies a trained
GPT-2 instead of a fresh one of the guide's shape; ``--out DIR`` saves gpt.json). It copies
GPT2LMHeadModel's weights into the GPT below and prints the largest gaps in logits, loss and
every gradient.
"""

# --8<-- [start:imports]
import copy

import torch
import torch.nn.functional as F
from torch import nn

from step2_architecture.attention import TransformerBlock, causal_mask

# --8<-- [end:imports]
# isort: split
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.errors import GuideError
from guide.model import load_causal_lm


# --8<-- [start:gpt]
class GPT(nn.Module):
    """Token and position embeddings, a stack of pre-LN blocks, a final LayerNorm, and a head
    that maps each position back to the vocabulary with the embedding matrix itself."""

    def __init__(self, vocab_size, context, d_model, n_layers, n_heads):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(context, d_model)  # learned, one vector per position
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads) for _ in range(n_layers))
        for block in self.blocks:
            block.ff[1] = nn.GELU(approximate="tanh")  # GPT-2's GELU is the tanh approximation
        self.ln_f = nn.LayerNorm(d_model)  # the blocks add to the residual; normalise once more
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tokens.weight  # tied: one matrix reads tokens in and writes them out

    def forward(self, ids):
        n = ids.size(1)
        x = self.tokens(ids) + self.positions(torch.arange(n, device=ids.device))
        mask = causal_mask(n, ids.device)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln_f(x))  # (batch, n, vocab): a score for every next token


def next_token_loss(logits, ids):
    """Position i predicts token i + 1: drop the last prediction and the first token, then
    cross-entropy between what was predicted and what came."""
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1))
    # --8<-- [end:gpt]


# --8<-- [start:copy]
def from_gpt2(hf):
    """Our GPT with a GPT2LMHeadModel's weights. GPT-2 stores its linear layers as Conv1D,
    whose weight is the transpose of nn.Linear's, and packs q, k and v in one matrix."""
    c = hf.config
    ours = GPT(c.vocab_size, c.n_positions, c.n_embd, c.n_layer, c.n_head)
    t = hf.transformer
    with torch.no_grad():
        ours.tokens.weight.copy_(t.wte.weight)
        ours.positions.weight.copy_(t.wpe.weight)
        for block, h in zip(ours.blocks, t.h):
            a = block.attn
            for proj, w, b in zip(
                (a.q_proj, a.k_proj, a.v_proj), h.attn.c_attn.weight.T.chunk(3), h.attn.c_attn.bias.chunk(3)
            ):
                proj.weight.copy_(w)
                proj.bias.copy_(b)
            pairs = [(a.out_proj, h.attn.c_proj), (block.ff[0], h.mlp.c_fc), (block.ff[2], h.mlp.c_proj)]
            for linear, conv in pairs:
                linear.weight.copy_(conv.weight.T)
                linear.bias.copy_(conv.bias)
            for ln, theirs in ((block.ln1, h.ln_1), (block.ln2, h.ln_2)):
                ln.load_state_dict(theirs.state_dict())
        ours.ln_f.load_state_dict(t.ln_f.state_dict())
    return ours


def gaps(ours, hf, ids):
    """Largest |ours - transformers| in the logits, the loss, and the gradient of every weight
    (GPT-2's gradients put in our layout by the same copy)."""
    logits = ours(ids)
    loss = next_token_loss(logits, ids)
    out = hf(input_ids=ids, labels=ids)  # transformers shifts the labels itself
    loss.backward()
    out.loss.backward()
    grads = copy.deepcopy(hf)
    for g, p in zip(grads.parameters(), hf.parameters()):
        g.data = p.grad
    theirs = from_gpt2(grads)
    gap = max((p.grad - q).abs().max().item() for p, q in zip(ours.parameters(), theirs.parameters()))
    return {
        "logits": (logits - out.logits).abs().max().item(),
        "loss": abs(loss.item() - out.loss.item()),
        "gradients": gap,
    }
    # --8<-- [end:copy]


def guide_shaped_gpt2(seed=0):
    """A fresh GPT-2 of the guide's model's shape (Step 3's make_model: 2 layers, 128 wide, 4
    heads, a context of 128), with a vocabulary of 2,048."""
    seed_everything(seed)
    config = GPT2Config(
        vocab_size=2048, n_positions=128, n_embd=128, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0
    )
    return GPT2LMHeadModel(config)


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="gpt.json")
    parser.add_argument("--model", help="a GPT-2 to copy: a Hugging Face id or local folder (default: a fresh one)")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    if args.model:
        _, hf = load_causal_lm(args.model)  # the guide's loader: a clear message for a bad --model
        if not isinstance(hf, GPT2LMHeadModel):
            raise GuideError(f"{args.model} is a {hf.config.model_type} model; this example copies GPT-2 only")
    else:
        hf = guide_shaped_gpt2()
    hf.eval()  # no dropout, so both compute the same function
    # --8<-- [start:demo]
    ours = from_gpt2(hf)
    ids = torch.randint(0, hf.config.vocab_size, (4, 64), generator=torch.Generator().manual_seed(0))
    measured = gaps(ours, hf, ids)
    n_ours = sum(p.numel() for p in ours.parameters())  # a tied matrix counts once
    n_theirs = sum(p.numel() for p in hf.parameters())
    print(f"our GPT: {n_ours:,} parameters; GPT2LMHeadModel: {n_theirs:,}")
    print("largest |ours - transformers| (float32), on 4 sequences of 64 tokens:")
    for name, gap in measured.items():
        print(f"  {name:<10} {gap:.1e}")
    # --8<-- [end:demo]
    write_metrics(args.out, "gpt", {"gaps": measured, "parameters": n_ours, "parameters_transformers": n_theirs})


if __name__ == "__main__":
    main()
