"""Step 3: pre-training makes the guide's model, fast, and everything downstream can load it."""

import inspect
import json
import math
import re
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from guide import world
from guide.cache import KEY_FILE
from guide.data import load_documents
from guide.errors import GuideError
from guide.model import load_causal_lm
from guide.world import JOBS
from step1_basics.first_taste import CORPUS
from step3_pretraining import pretrain
from step3_pretraining.pretrain import (
    evaluate,
    learning_rate,
    make_model,
    read_corpus,
    token_blocks,
    train,
    train_tokenizer,
)
from step3_pretraining.quality import clean
from testing_utils import refused


@pytest.fixture(scope="module")
def log(guide_model):
    return guide_model.metrics("pretrain")


def test_perplexity_falls_at_least_tenfold(log):
    ratio = math.exp(log["untrained_val_loss"] - log["final_val_loss"])
    assert ratio >= 10, f"perplexity fell only {ratio:.1f}x"
    val = [h["val_loss"] for h in log["history"]]
    assert val[-1] < val[0] and min(val) == pytest.approx(val[-1], abs=0.05)  # still improving


def _known_word_share(samples, vocabulary):
    words = [w for s in samples for w in re.findall(r"\S+", s.split(" ", 3)[-1])]  # after the prompt
    return sum(w.strip(".,!?'\"") in vocabulary for w in words) / max(1, len(words))


def test_samples_become_sentences_of_the_world(log):
    after = log["samples_after"][0]
    assert after.startswith("Mara Reed is a ")
    assert after.split()[4] in JOBS  # "Mara Reed is a <job> in <town>."
    # before training the model strings sub-word pieces together; after, it writes the corpus's words
    vocabulary = {w for doc in read_corpus()["train"] for w in re.findall(r"[^\s.,!?'\"]+", doc)}
    before, after = (
        _known_word_share(log["samples_before"], vocabulary),
        _known_word_share(log["samples_after"], vocabulary),
    )
    assert before < 0.7 and after > 0.95, f"share of real words: {before:.2f} before, {after:.2f} after"


def test_the_model_is_tiny_with_special_tokens_inside_the_vocabulary(guide_model):
    config = json.loads((guide_model.out / "guide-model" / "config.json").read_text())
    assert config["bos_token_id"] < config["vocab_size"] and config["eos_token_id"] < config["vocab_size"]
    assert config["n_layer"] == 2 and config["n_embd"] == 128


def test_loss_curve_is_plotted(guide_model):
    assert (guide_model.out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_page_shows_this_output(guide_model, page_output):
    page_output(
        "step3_pretrain",
        guide_model.stdout.replace(str(guide_model.out / "guide-model"), "~/.cache/llm-mastery/guide-model"),
        guide_model.figures(),
    )


def test_saved_model_loads_back_with_the_auto_classes(guide_model, log):
    folder = guide_model.out / "guide-model"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)

    val = token_blocks(tokenizer, read_corpus()["validation"])
    assert evaluate(model, val, torch.device("cpu")) == pytest.approx(log["final_val_loss"], abs=1e-3)


def test_save_load_round_trip_gives_identical_logits(tmp_path):
    tokenizer = train_tokenizer([CORPUS.read_text()] * 3, vocab_size=300)
    model = make_model(tokenizer, width=32, layers=1, heads=2).eval()
    tokenizer.save_pretrained(tmp_path)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    ids = AutoTokenizer.from_pretrained(tmp_path)("The cat sat on the mat.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, loaded(input_ids=ids).logits)


@pytest.mark.parametrize(
    "text",
    ["Mara Reed is a baker in Ashford.", "naïve café, 東京, emoji 🙂 and\ttabs\n", "  leading and trailing spaces  "],
)
def test_tokenizer_round_trips_any_text(guide_model, text):
    tokenizer = AutoTokenizer.from_pretrained(guide_model.out / "guide-model")
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: nothing is lost


def test_schedule_warms_up_then_decays_to_zero():
    lrs = [learning_rate(s, 100, 1.0, 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.001


def test_helper_loads_the_cached_model(guide_model, capsys):
    tokenizer, model = load_causal_lm()
    assert "using the guide's model from" in capsys.readouterr().err
    assert model.config.n_embd == 128 and not model.training


def test_helper_explains_a_missing_model(monkeypatch, tmp_path):
    monkeypatch.setenv("GUIDE_MODEL_DIR", str(tmp_path / "nothing-here"))
    with pytest.raises(GuideError, match="python snippets/step3_pretraining/pretrain.py"):
        load_causal_lm()


def _bad_folders(tmp_path, guide_model):
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (corrupt / name).write_bytes((guide_model.out / "guide-model" / name).read_bytes())
    (corrupt / "model.safetensors").write_bytes(b"not really weights")
    return {
        "missing": (str(tmp_path / "no-such-folder"), "there is no folder there"),
        "empty": (str(empty), "has no config.json"),
        "corrupt": (str(corrupt), "incomplete or corrupt"),
        "unknown id": ("not-a-real-org/not-a-model", "HF_HUB_OFFLINE=1 is set"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "unknown id"])
def test_bad_model_gets_a_clear_message(case, tmp_path, guide_model, refuses):
    model, message = _bad_folders(tmp_path, guide_model)[case]
    refused(refuses("step1_basics/first_taste.py", "--model", model, cwd=tmp_path), message)


def test_empty_corpus_gets_a_clear_message(tmp_path, refuses):
    (tmp_path / "empty.txt").write_text("\n\n")
    proc = refuses(
        "step3_pretraining/pretrain.py",
        "--corpus",
        str(tmp_path / "empty.txt"),
        "--save",
        str(tmp_path / "m"),
        cwd=tmp_path,
    )
    assert proc.returncode != 0 and "has 0 training and 0 validation documents" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "m").exists()


def test_the_built_model_is_reused_until_its_recipe_changes(guide_model, monkeypatch, tmp_path):
    """The page's command wrote the build key, so later steps reuse the model as it is; a key
    from older code or data, or none, means build again (refused here, to say why)."""
    folder = tmp_path / "guide-model"
    shutil.copytree(guide_model.out / "guide-model", folder)
    monkeypatch.setenv("GUIDE_MODEL_DIR", str(folder))
    assert pretrain.guide_model(build_if_missing=False) == folder
    (folder / KEY_FILE).write_text("an-older-recipe\n")
    with pytest.raises(GuideError, match="built from older code or data"):
        pretrain.guide_model(build_if_missing=False)
    (folder / KEY_FILE).unlink()
    with pytest.raises(GuideError, match="is not in .* yet"):
        pretrain.guide_model(build_if_missing=False)


def test_the_recipe_covers_the_settings_and_the_corpus(tmp_path):
    corpus = tmp_path / "mine.txt"
    corpus.write_text("one story.\n\nanother story.\n")
    keys = {
        pretrain.recipe(),
        pretrain.recipe(steps=199),
        pretrain.recipe(corpus=corpus),
        pretrain.recipe(device="meta"),
    }
    assert len(keys) == 4


def test_bpe_runs_out_of_merges_well_below_the_vocabulary_it_may_use(log):
    """The page: the corpus has so few words that BPE finds nothing worth merging long before the
    vocabulary size it is allowed."""
    allowed = inspect.signature(train_tokenizer).parameters["vocab_size"].default
    assert log["vocab_size"] < 0.75 * allowed, f"vocabulary {log['vocab_size']} of {allowed} allowed"


def test_training_sees_a_little_more_than_one_epoch(log):
    """The page: steps, not epochs; the default run sees the training split a little over once."""
    batch_size = inspect.signature(train).parameters["batch_size"].default
    block_size = inspect.signature(token_blocks).parameters["block_size"].default
    epochs = log["steps"] * batch_size * block_size / log["train_tokens"]
    assert 1 < epochs < 2, f"{epochs:.2f} epochs"


def test_perplexity_starts_at_about_the_vocabulary_size_and_ends_at_a_few_tokens(log):
    """The page: the untrained model is guessing among the whole vocabulary; the trained one
    hesitates between a handful of tokens."""
    untrained, final = math.exp(log["untrained_val_loss"]), math.exp(log["final_val_loss"])
    assert 0.8 < untrained / log["vocab_size"] < 1.25, (
        f"untrained perplexity {untrained:.0f}, vocabulary {log['vocab_size']}"
    )
    assert final < 5, f"final perplexity {final:.2f}"


def test_pretraining_reads_the_cleaned_training_split(log):
    """The page reconciles the world's training stories with the documents pre-training reads:
    cleaning removes a few near-twin stories and lets a few noise documents through."""

    docs = load_documents()
    kept, _ = clean(docs)
    train_stories = sum(d["split"] == "train" and d["kind"] == "story" for d in docs)
    kept_train = [d for d in kept if d["split"] == "train"]
    stories_removed = train_stories - sum(d["kind"] == "story" for d in kept_train)
    noise_kept = sum(d["kind"] != "story" for d in kept_train)
    assert log["train_documents"] == len(kept_train)
    assert 0 < stories_removed < 0.01 * train_stories and 0 < noise_kept < 0.01 * train_stories


def test_the_world_has_the_people_towns_and_noise_the_page_names():
    """Generator settings the page states (240 people in 12 towns, 540 noise documents) and the
    data card's "about 6% web-like noise"."""
    docs, facts = world.generate()
    seen = [p for p in facts["people"] if p["seen"]]
    assert len(seen) == 240 and len({p["town"] for p in seen}) == len(facts["towns"]) == 12
    noise = sum(d["kind"] != "story" for d in docs)
    assert noise == 540 and 0.055 < noise / len(docs) < 0.065


@pytest.mark.gpu
def test_pretraining_on_cuda_with_bf16_autocast(tmp_path, example):
    example(
        "step3_pretraining/pretrain.py",
        "--device",
        "cuda",
        "--save",
        str(tmp_path / "m"),
        "--out",
        str(tmp_path),
        cwd=tmp_path,
        timeout=300,
    )
    log = json.loads((tmp_path / "pretrain.json").read_text())
    assert log["device"] == "cuda"
    assert math.exp(log["untrained_val_loss"] - log["final_val_loss"]) >= 10
    print(
        f"CUDA pre-training: {log['seconds']:.1f} s, val loss {log['untrained_val_loss']:.2f} -> {log['final_val_loss']:.2f}"
    )


def test_training_loop_writes_loadable_checkpoints(tmp_path):
    tokenizer = train_tokenizer([CORPUS.read_text()] * 3, vocab_size=300)
    blocks = token_blocks(tokenizer, [CORPUS.read_text()] * 4, block_size=32)
    model = make_model(tokenizer, width=32, layers=1, heads=2, context=32)
    history = train(
        model,
        blocks,
        blocks[:4],
        torch.device("cpu"),
        steps=4,
        batch_size=4,
        warmup_steps=1,
        eval_every=2,
        checkpoint_every=2,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert [h["step"] for h in history] == [2, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-2", "step-4"]
    final = AutoModelForCausalLM.from_pretrained(tmp_path / "step-4")
    assert all(torch.equal(a, b) for a, b in zip(final.state_dict().values(), model.state_dict().values()))
