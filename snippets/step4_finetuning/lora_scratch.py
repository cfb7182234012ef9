"""LoRA from scratch: a frozen linear layer plus a trainable low-rank update, B @ A.

Run it: ``python snippets/step4_finetuning/lora_scratch.py`` (``--out DIR`` saves
lora_scratch.json). It wraps a layer with our LoRA and with PEFT's, gives both the same A and B,
and prints how far apart their outputs are, and how few parameters LoRA trains.
"""

from guide import cli, write_metrics  # cli: the command line every example shares

# isort: split
# --8<-- [start:lora]
import copy
import math

import torch
from peft import LoraConfig, get_peft_model
from torch import nn


class LoRALinear(nn.Module):
    """y = W x + (alpha / r) * B A x, with W frozen; only A (r x in) and B (out x r) train.

    B starts at zero, so the wrapped layer begins exactly as the pre-trained one; A starts
    random so gradients reach B from the first step (Hu et al., 2021)."""

    def __init__(self, base: nn.Linear, r=8, alpha=16):
        super().__init__()
        self.base = base.requires_grad_(False)  # the pre-trained weights never change
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # PEFT's default for A
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def merged(self) -> nn.Linear:
        """Fold B A into W: one ordinary layer, no extra cost at inference."""
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.lora_B @ self.lora_A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged
        # --8<-- [end:lora]


# --8<-- [start:parity]
class TwoLayers(nn.Module):
    """A stand-in for a model: PEFT finds layers by name, here "up" and "down"."""

    def __init__(self, width=64):
        super().__init__()
        self.up, self.down = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x):
        return self.down(torch.relu(self.up(x)))


def compare_with_peft(width=64, r=8, alpha=16, seed=0):
    """Our LoRA and PEFT's on copies of the same layer, with the same A and B."""
    torch.manual_seed(seed)
    base = TwoLayers(width)
    theirs = get_peft_model(copy.deepcopy(base), LoraConfig(r=r, lora_alpha=alpha, target_modules=["up", "down"]))
    ours = copy.deepcopy(base)
    for name in ("up", "down"):
        layer = LoRALinear(getattr(ours, name), r=r, alpha=alpha)
        peft_layer = getattr(theirs.base_model.model, name)
        with torch.no_grad():
            nn.init.normal_(peft_layer.lora_B["default"].weight)  # non-zero, or both are trivially equal
            layer.lora_A.copy_(peft_layer.lora_A["default"].weight)
            layer.lora_B.copy_(peft_layer.lora_B["default"].weight)
        setattr(ours, name, layer)
    x = torch.randn(5, width)
    with torch.no_grad():
        gap = (ours(x) - theirs(x)).abs().max().item()
        merged_gap = (theirs.merge_and_unload()(x) - ours(x)).abs().max().item()
    trainable = sum(p.numel() for p in ours.parameters() if p.requires_grad)
    total = sum(p.numel() for p in ours.parameters())
    return {"max_gap": gap, "merged_gap": merged_gap, "trainable": trainable, "total": total}
    # --8<-- [end:parity]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, out="lora_scratch.json")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    args = parser.parse_args(argv)
    if args.rank < 1:
        parser.error("--rank must be at least 1")

    result = compare_with_peft(r=args.rank, alpha=2 * args.rank)
    print(f"ours vs PEFT, same A and B: largest |difference| {result['max_gap']:.1e}")
    print(f"after merge_and_unload:     largest |difference| {result['merged_gap']:.1e}")
    print(
        f"trainable parameters: {result['trainable']:,} of {result['total']:,} "
        f"({result['trainable'] / result['total']:.1%}) at rank {args.rank}"
    )
    write_metrics(args.out, "lora_scratch", result)


if __name__ == "__main__":
    main()
