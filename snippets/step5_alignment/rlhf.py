"""RLHF policy optimisation: GRPO against the reward model, with and without a KL leash.

Run it: ``python snippets/step5_alignment/rlhf.py`` (``--beta`` sets the KL coefficient,
``--beta 0`` removes the leash; ``--reward-model DIR`` uses a saved reward model; ``--out DIR``
saves rlhf.json). Every few steps it samples the policy on held-out prompts and reports the
reward model's score, the rule's score and the KL divergence from the starting model.
"""

# --8<-- [start:imports]
import time

import torch
from datasets import Dataset
from transformers import PrinterCallback, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from guide import training_args
from guide.rule import judge
from guide.scoring import completion_log_probs, sample_responses

# --8<-- [end:imports]
# isort: split
from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.model import load_causal_lm
from step3_pretraining.pretrain import guide_model
from step5_alignment.preferences import preference_pairs
from step5_alignment.reward_model import score, trained_reward_model


# --8<-- [start:kl]
@torch.no_grad()
def sequence_log_probs(model, ids, prompt_len, tokenizer):
    """log p(completion | prompt) for each row of generate()'s output (prompts left-padded): the
    sum over the completion's tokens up to and including its end-of-text token, with Step 5's
    DPO helper. What generate() pads after that token is not part of the answer."""
    completion = ids[:, prompt_len:]
    ended = (completion == tokenizer.eos_token_id).long().cumsum(-1)
    answer = (ended == 0) | ((ended == 1) & (completion == tokenizer.eos_token_id))
    completion_mask = torch.cat([torch.zeros_like(ids[:, :prompt_len]), answer.long()], 1)
    attention = ((ids != tokenizer.pad_token_id) & (torch.arange(ids.shape[1]) < prompt_len)).long() | completion_mask
    return completion_log_probs(model, ids, attention, completion_mask).sum(-1)


@torch.no_grad()
def evaluate(policy, reference, reward, tokenizer, prompts, samples=4):
    """Sample the policy on held-out prompts. KL(policy || reference) is estimated as the mean
    of log p_policy(y|x) - log p_reference(y|x) over the policy's own samples y: the quantity
    the leash keeps small."""
    policy.eval()
    prompts = [p for p in prompts for _ in range(samples)]
    ids, n = sample_responses(policy, tokenizer, prompts)
    texts = tokenizer.batch_decode(ids[:, n:], skip_special_tokens=True)
    kl = sequence_log_probs(policy, ids, n, tokenizer) - sequence_log_probs(reference, ids, n, tokenizer)
    policy.train()
    return {
        "reward": sum(reward(prompts, texts)) / len(texts),
        "rule": sum(judge(t) for t in texts) / len(texts),
        "kl": kl.mean().item(),
        "well_formed": sum(judge(t) > -2 for t in texts) / len(texts),
        "example": texts[0],
    }
    # --8<-- [end:kl]


# --8<-- [start:grpo]
def optimise(policy, tokenizer, reward, train_prompts, beta, steps=60, lr=5e-4, batch=16, on_step=None):
    """GRPO from TRL: for each prompt sample a group of 8 completions, score each with
    reward(prompts, completions), and use (reward - group mean) / group std as its advantage.
    The loss is the PPO clipped objective on those advantages plus beta x KL(policy || ref);
    with one update per batch of samples, as here, the ratio is 1 and the clip never acts."""
    args = training_args(  # the guide's defaults (guide/runtime.py: bf16 off, no checkpoints, ...)
        GRPOConfig,
        max_steps=steps,
        learning_rate=lr,
        beta=beta,
        num_generations=8,
        per_device_train_batch_size=batch,
        max_completion_length=48,
        temperature=1.0,
        top_k=0,
        lr_scheduler_type="constant",
        logging_steps=1,
        disable_dropout=True,  # the guide's model was pre-trained with dropout: score the policy that sampled
    )

    class Every(TrainerCallback):
        def on_step_end(self, _args, state, _control, **_kw):
            if on_step:
                on_step(state.global_step)

    def reward_model(prompts, completions, **_):  # TRL also passes the dataset's other columns
        return reward(prompts, completions)

    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=reward_model,
        args=args,
        processing_class=tokenizer,
        callbacks=[Every()],
        train_dataset=Dataset.from_list([{"prompt": p} for p in train_prompts]),
    )
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return policy.eval()
    # --8<-- [end:grpo]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="rlhf.json")
    parser.add_argument("--reward-model", help="a folder saved by reward_model.py --save (default: train one)")
    parser.add_argument("--beta", type=float, default=0.3, help="KL coefficient (0 removes the leash)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--every", type=int, default=10, help="evaluate every this many steps")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.beta < 0:
        parser.error("--beta must be 0 or more")

    logging.set_verbosity_error()
    rm_tokenizer, reward_model = trained_reward_model(args.reward_model)

    @torch.no_grad()
    def reward(prompts, completions):
        """The reward model's scores, with its own tokenizer (TRL could take the model itself,
        but it would score prompt + completion without the end-of-text token)."""
        return score(reward_model, rm_tokenizer, prompts, completions).tolist()

    seed_everything(0)
    tokenizer, policy = load_causal_lm(args.model or guide_model())
    _, reference = load_causal_lm(args.model or guide_model(), log=lambda _: None)
    train_prompts = sorted({p["prompt"] for p in preference_pairs("train", 2000)})
    test_prompts = sorted({p["prompt"] for p in preference_pairs("test", 400)})[:32]

    history = []

    def measure(step):
        if step % args.every == 0:
            history.append({"step": step, **evaluate(policy, reference, reward, tokenizer, test_prompts)})
            h = history[-1]
            print(
                f"  step {step:>3}: reward {h['reward']:+.2f}  rule {h['rule']:+.2f}  KL {h['kl']:5.2f} nats  "
                f"well-formed {h['well_formed']:.0%}",
                flush=True,
            )

    print(
        f"GRPO, beta={args.beta:g}, {args.steps} steps, {len(train_prompts)} training prompts; "
        f"measured on {len(test_prompts)} held-out prompts x 4 samples:"
    )
    start = time.perf_counter()
    measure(0)
    optimise(policy, tokenizer, reward, train_prompts, args.beta, steps=args.steps, on_step=measure)
    seconds = time.perf_counter() - start
    print(f"{seconds:.1f} s; a sample after training: {history[-1]['example']!r}")
    write_metrics(args.out, "rlhf", {"beta": args.beta, "history": history, "seconds": seconds})


if __name__ == "__main__":
    main()
