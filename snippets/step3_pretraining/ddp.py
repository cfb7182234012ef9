"""Data-parallel pre-training: the same loop on several processes, gradients averaged each step.

Run it: ``torchrun --standalone --nproc_per_node=2 snippets/step3_pretraining/ddp.py`` or
``accelerate launch --multi_gpu --num_processes 2 snippets/step3_pretraining/ddp.py`` (both work
on a CPU, with the gloo backend); plain ``python`` runs one process. ``--out DIR`` makes rank 0
write ddp.json with every rank's weight checksum.
"""

# --8<-- [start:imports]
import os
import sys
import time

import torch
import torch.distributed as dist

from guide.errors import GuideError
from step3_pretraining.pretrain import (
    evaluate,
    learning_rate,
    make_model,
    read_corpus,
    token_blocks,
    train_tokenizer,
)

# --8<-- [end:imports]
# isort: split
from guide import cli, pick_device, write_metrics  # cli: the command line every example shares


# --8<-- [start:setup]
def setup(device_type="cpu"):
    """torchrun and accelerate launch both start one process per worker and tell each its
    RANK, WORLD_SIZE and LOCAL_RANK through the environment; init_process_group reads them.
    GPUs talk through NCCL, one GPU per process; CPUs through gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda" and world > torch.cuda.device_count():
        raise GuideError(
            f"{world} processes need {world} GPUs (one each) and this machine has "
            f"{torch.cuda.device_count()}. Use --device cpu (gloo), or fewer processes."
        )
    if world > 1:
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    device = torch.device(f"cuda:{local_rank}" if device_type == "cuda" else device_type)
    return rank, world, device
    # --8<-- [end:setup]


# --8<-- [start:ddp]
def train_data_parallel(model, train, rank, world, steps, batch_size=16, peak_lr=3e-3):
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.1)
    # Each rank draws its own batches: together they see world_size x as much data per step.
    batches = torch.Generator().manual_seed(1000 + rank)
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, peak_lr, max(1, steps // 10))
        x = train[torch.randint(len(train), (batch_size,), generator=batches)]
        x = x.to(next(model.parameters()).device)
        loss = model(input_ids=x, labels=x).loss
        loss.backward()  # DDP all-reduces (averages) the gradients across ranks here...
        optimizer.step()  # ...so every rank applies the same update and stays identical
        optimizer.zero_grad()
        losses.append(loss.item())
    return model, losses
    # --8<-- [end:ddp]


def checksum(model):
    return sum(p.double().sum().item() for p in model.parameters())


@cli.command(cache=False)
def main(argv=None):
    parser = cli.parser(__doc__, out="ddp.json (rank 0 writes it)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--device", help="cpu or cuda (default: the best available)")
    args = parser.parse_args(argv)

    device_type = pick_device(args.device).type
    if device_type not in ("cpu", "cuda"):
        parser.error(f"data parallelism here runs on cpu or cuda, not {device_type}; pass --device cpu")
    rank, world, device = setup(device_type)
    torch.set_num_threads(1)  # one core per process on a 2-core machine
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    texts = read_corpus()  # the cleaned small-world corpus, split into train and validation
    tokenizer = train_tokenizer(texts["train"][:2000])  # deterministic: identical on every rank
    train, val = (token_blocks(tokenizer, texts[s], block_size=64) for s in ("train", "validation"))
    val = val[:64]

    model = make_model(tokenizer, context=64).to(device)
    before = evaluate(model, val, device)
    start = time.perf_counter()
    model, losses = train_data_parallel(model, train, rank, world, args.steps)
    after = evaluate(model, val, device)

    sums = [None] * world
    if world > 1:
        dist.all_gather_object(sums, checksum(model))
    else:
        sums = [checksum(model)]
    if rank == 0:
        print(
            f"{world} process(es), {args.steps} steps, {16 * world} blocks per step "
            f"({time.perf_counter() - start:.1f} s)"
        )
        print(f"validation loss {before:.2f} -> {after:.2f}")
        print(f"weight checksums per rank: {[round(s, 4) for s in sums]}")
        write_metrics(
            args.out,
            "ddp",
            {
                "world_size": world,
                "checksums": sums,
                "before": before,
                "after": after,
                "first_losses": losses[:5],
                "last_losses": losses[-5:],
            },
        )
    sys.stdout.flush()  # everything printed is out before the process group is torn down
    sys.stderr.flush()
    if world > 1:
        dist.barrier()  # let rank 0 finish writing before any process tears down its connections
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
