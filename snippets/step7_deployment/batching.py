"""Dynamic micro-batching: requests that arrive within a few milliseconds of each other share one
``generate`` call, each with its own prompt, length limit and temperature.

Used by app.py (``--max-batch 1`` turns it off); benchmark.py measures what it buys.
"""

# --8<-- [start:imports]
import queue
import threading
import time
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

# --8<-- [end:imports]


# --8<-- [start:job]
@dataclass
class Job:
    """One request waiting for, or in, a batch. The batch thread appends tokens; ``on_token``
    (called from that thread) lets the server stream them; ``done`` is set when it is over."""

    ids: list[int]
    max_new_tokens: int
    temperature: float = 0.0
    on_token: object = None  # callable(token_id) or None
    tokens: list[int] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False  # the client gave up (timeout, disconnect): stop spending compute on it
    error: str | None = None

    def finish(self):
        if not self.done.is_set():
            self.done.set()
            if self.on_token:
                self.on_token(None)  # None tells the listener that no more tokens will come
                # --8<-- [end:job]


# --8<-- [start:per_row]
class PerRowTemperature(LogitsProcessor):
    """Each row of the batch samples at its own temperature; temperature 0 means greedy: every
    token but the most likely one is ruled out, so sampling picks exactly what argmax would."""

    def __init__(self, temperatures):
        self.t = torch.tensor(temperatures).unsqueeze(1)

    def __call__(self, input_ids, scores):
        greedy = torch.full_like(scores, float("-inf")).scatter(1, scores.argmax(-1, keepdim=True), 0.0)
        return torch.where(self.t > 0, scores / self.t.clamp(min=1e-6), greedy)


class PerRowStop(StoppingCriteria):
    """Hands each row's new token to its job and stops the row at its own limit, at the
    end-of-text token, or when its client has gone. ``generate`` stops when every row has."""

    def __init__(self, jobs, eos_id):
        self.jobs, self.eos_id = jobs, eos_id

    def __call__(self, input_ids, scores, **kwargs):
        for job, token in zip(self.jobs, input_ids[:, -1].tolist()):
            if job.done.is_set():
                continue
            if job.cancelled or token == self.eos_id:
                job.finish()
                continue
            job.tokens.append(token)
            if job.on_token:
                job.on_token(token)
            if len(job.tokens) >= job.max_new_tokens:
                job.finish()
        return torch.tensor([job.done.is_set() for job in self.jobs])
        # --8<-- [end:per_row]


# --8<-- [start:batcher]
class MicroBatcher:
    """A queue and one worker thread. The worker takes the first waiting job, waits up to
    ``max_wait`` seconds for more (at most ``max_batch`` in all), and runs them as one batch.
    ``max_batch=1`` is plain one-at-a-time serving; ``on_batch(size)`` is told every batch."""

    def __init__(self, model, tokenizer, max_batch=16, max_wait=0.01, on_batch=None):
        self.model, self.tokenizer = model, tokenizer
        self.max_batch, self.max_wait, self.on_batch = max_batch, max_wait, on_batch
        self.queue = queue.Queue()
        threading.Thread(target=self._work, daemon=True, name="micro-batcher").start()

    def submit(self, job):
        self.queue.put(job)
        return job

    def _collect(self):
        batch = [self.queue.get()]  # sleep until there is work
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                batch.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        for job in batch:
            if job.cancelled:  # its client left while it waited: no compute for it
                job.finish()
        return [job for job in batch if not job.cancelled]

    def _work(self):
        while True:
            batch = self._collect()
            if not batch:
                continue
            try:
                self.run(batch)
            except Exception as err:  # a failed batch fails its requests, never the worker
                for job in batch:
                    job.error = f"generation failed ({type(err).__name__})"
                    job.finish()

    @torch.no_grad()
    def run(self, batch):
        if self.on_batch:
            self.on_batch(len(batch))  # before any row can finish: whoever sees an answer sees its batch
        tok = self.tokenizer
        # pad on the left, so that every prompt ends where generation begins
        enc = tok.pad({"input_ids": [job.ids for job in batch]}, padding_side="left", return_tensors="pt")
        self.model.generate(
            **enc,
            do_sample=True,  # greedy rows are made deterministic by PerRowTemperature
            top_k=0,
            max_new_tokens=max(job.max_new_tokens for job in batch),
            logits_processor=LogitsProcessorList([PerRowTemperature([job.temperature for job in batch])]),
            stopping_criteria=StoppingCriteriaList([PerRowStop(batch, tok.eos_token_id)]),
            pad_token_id=tok.pad_token_id,
        )
        for job in batch:
            job.finish()
            # --8<-- [end:batcher]
