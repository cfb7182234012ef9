"""A sparse mixture-of-experts layer: a router sends each token to a few of many feed-forward
networks, and an auxiliary loss keeps the experts evenly loaded.

Run it: ``python snippets/step2_architecture/moe.py`` (``--out DIR`` saves moe.json). It copies
the weights of transformers' Mixtral MoE block into the layer below and prints the largest
gaps in the output and in the load-balancing loss, then counts total against active parameters.
"""

# --8<-- [start:imports]
import torch
import torch.nn.functional as F
from torch import nn
from transformers import MixtralConfig
from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock, load_balancing_loss_func

from step2_architecture.modern import SwiGLU

# --8<-- [end:imports]
# isort: split
from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares


# --8<-- [start:moe]
class SparseMoE(nn.Module):
    """In place of the block's one feed-forward network: ``n_experts`` of them, and a router
    that scores them for every token. Each token goes through its ``top_k`` best experts only,
    and their outputs are mixed by the router's renormalised probabilities. The parameters
    grow with the number of experts; the work per token grows with top_k only."""

    def __init__(self, d_model, d_ff, n_experts, top_k):
        super().__init__()
        self.top_k = top_k
        self.router = nn.Linear(d_model, n_experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(d_model, d_ff) for _ in range(n_experts))

    def forward(self, x):
        tokens = x.reshape(-1, x.size(-1))
        self.router_logits = self.router(tokens)  # kept for the balancing loss
        weights, chosen = self.router_logits.softmax(-1).topk(self.top_k, dim=-1)
        weights = weights / weights.sum(-1, keepdim=True)
        out = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            token, slot = (chosen == e).nonzero(as_tuple=True)  # the tokens routed to expert e
            if len(token):
                out.index_add_(0, token, expert(tokens[token]) * weights[token, slot, None])
        return out.view_as(x)


def load_balancing_loss(router_logits, top_k):
    """Switch Transformer's auxiliary loss (Fedus et al., 2022): n_experts x the sum over
    experts of (the share of routing choices it got) x (its mean router probability). It is
    smallest when both are even; added to the loss, it stops the router from sending everything
    to the few experts that happened to start best."""
    probs = router_logits.softmax(-1)
    n_experts = probs.size(-1)
    share = F.one_hot(probs.topk(top_k, dim=-1).indices, n_experts).float().sum(1).mean(0)
    return n_experts * (share * probs.mean(0)).sum()
    # --8<-- [end:moe]


# --8<-- [start:parity]
def from_mixtral(theirs: MixtralSparseMoeBlock, d_ff):
    """Our layer with the weights of Mixtral's block, which keeps each expert's gate and up
    projections in one matrix and all experts in one tensor."""
    n_experts, d_model = theirs.gate.weight.shape
    ours = SparseMoE(d_model, d_ff, n_experts, theirs.top_k)
    with torch.no_grad():
        ours.router.weight.copy_(theirs.gate.weight)
        for e, expert in enumerate(ours.experts):
            gate, up = theirs.experts.gate_up_proj[e].chunk(2, dim=0)
            expert.gate.weight.copy_(gate)
            expert.up.weight.copy_(up)
            expert.down.weight.copy_(theirs.experts.down_proj[e])
    return ours


def max_gaps(d_model=32, d_ff=64, n_experts=8, top_k=2, tokens=(3, 10)):
    config = MixtralConfig(
        hidden_size=d_model, intermediate_size=d_ff, num_local_experts=n_experts, num_experts_per_tok=top_k
    )
    config._experts_implementation = "eager"  # the plain loop over experts, as a model would set it
    theirs = MixtralSparseMoeBlock(config).eval()
    for p in theirs.parameters():  # transformers leaves these empty until a model initialises them
        nn.init.normal_(p, std=0.2)
    ours = from_mixtral(theirs, d_ff)
    x = torch.randn(*tokens, d_model)
    with torch.no_grad():
        out = (ours(x) - theirs(x)).abs().max().item()
    loss = load_balancing_loss(ours.router_logits, top_k)
    reference = load_balancing_loss_func((ours.router_logits,), n_experts, top_k)
    return {
        "output (MixtralSparseMoeBlock)": out,
        "balancing loss (load_balancing_loss_func)": abs(loss - reference).item(),
    }
    # --8<-- [end:parity]


def parameters(module):
    return sum(p.numel() for p in module.parameters())


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="moe.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    seed_everything(args.seed)
    gaps = {f"top-{k} of 8 experts": max_gaps(top_k=k) for k in (1, 2)}
    print("largest |ours - transformers' Mixtral| (float32), weights copied:")
    for kind, table in gaps.items():
        for name, gap in table.items():
            print(f"  {kind}, {name:<42} {gap:.1e}")
    moe = SparseMoE(128, 344, n_experts=8, top_k=2)
    dense = SwiGLU(128, 344)
    total, per_expert = parameters(moe), parameters(dense)
    active = parameters(moe.router) + 2 * per_expert
    print("at the guide's width (128), 8 experts of the SwiGLU network 344 wide, top-2:")
    print(f"  one dense network       {per_expert:,} parameters")
    print(f"  the MoE layer, total    {total:,} parameters ({total / per_expert:.1f}x)")
    print(f"  active for each token   {active:,} parameters ({active / per_expert:.1f}x)")
    write_metrics(args.out, "moe", {"gaps": gaps, "dense": per_expert, "total": total, "active": active})


if __name__ == "__main__":
    main()
