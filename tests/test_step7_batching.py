"""Step 7: the micro-batcher in-process: same answers as one at a time, per-row limits and
temperatures, cancellation, and a failing batch that does not take the worker down."""

import torch

from guide.data import stories
from guide.model import load_causal_lm
from step7_deployment.batching import Job, MicroBatcher


def run(batcher, jobs, timeout=30):
    for job in jobs:
        batcher.submit(job)
    assert all(job.done.wait(timeout) for job in jobs)
    return jobs


def test_batched_greedy_answers_equal_one_at_a_time(guide_model):
    tokenizer, model = load_causal_lm()
    prompts = [r["text"][: 25 + 9 * i] for i, r in enumerate(stories("test", 12))]  # different lengths

    def jobs():
        return [Job(tokenizer(p)["input_ids"], max_new_tokens=5 + 3 * (i % 6)) for i, p in enumerate(prompts)]

    alone = run(MicroBatcher(model, tokenizer, max_batch=1), jobs())
    sizes = []
    together = run(MicroBatcher(model, tokenizer, max_batch=16, max_wait=0.2, on_batch=sizes.append), jobs())
    assert [j.tokens for j in together] == [j.tokens for j in alone]
    assert all(len(j.tokens) <= j.max_new_tokens for j in together) and max(sizes) > 1


def test_sampled_and_greedy_rows_share_a_batch(guide_model):
    tokenizer, model = load_causal_lm()
    ids = tokenizer("Mara Lane is a nurse in Ashford.")["input_ids"]
    torch.manual_seed(0)
    batcher = MicroBatcher(model, tokenizer, max_batch=16, max_wait=0.2)
    greedy = [Job(ids, 20) for _ in range(3)]
    hot = [Job(ids, 20, temperature=1.5) for _ in range(5)]
    run(batcher, greedy + hot)
    assert greedy[0].tokens == greedy[1].tokens == greedy[2].tokens  # temperature 0 is deterministic
    assert len({tuple(j.tokens) for j in hot}) > 1  # the hot rows sample


def test_a_cancelled_job_stops_and_a_failed_batch_spares_the_worker(guide_model):
    tokenizer, model = load_causal_lm()
    ids = tokenizer("Omar Reed is a baker in Glenrock.")["input_ids"]
    gone = Job(ids, 64)
    gone.cancelled = True  # its client left while it waited
    batcher = MicroBatcher(model, tokenizer, max_batch=4, max_wait=0.05)
    kept = run(batcher, [gone, Job(ids, 10)])
    assert gone.tokens == [] and len(kept[1].tokens) == 10

    broken = Job([10**6], 5)  # a token id the model does not have: its batch raises
    run(batcher, [broken])
    assert broken.error.startswith("generation failed")
    assert len(run(batcher, [Job(ids, 7)])[0].tokens) == 7  # the worker lives on
