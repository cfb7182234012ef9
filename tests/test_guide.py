"""guide/, the layer every lesson shares: its build cache, its command line, its Trainer
defaults. (Its data and scoring are checked through the lessons that teach them.)"""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from guide import cli, training_args
from guide.cache import KEY_FILE, build_key, cached_build, stored_key
from guide.errors import GuideError
from guide.scoring import completion_log_probs


def test_a_build_is_reused_while_its_key_holds_and_redone_when_it_changes(tmp_path):
    builds = []

    def write(folder):
        builds.append(folder)
        (folder / "weights").write_text(f"build {len(builds)}")

    folder = tmp_path / "model"
    assert cached_build(folder, "k1", write, "the model") == folder
    assert cached_build(folder, "k1", write, "the model") == folder and len(builds) == 1
    cached_build(folder, "k2", write, "the model")
    assert len(builds) == 2 and (folder / "weights").read_text() == "build 2" and stored_key(folder) == "k2"
    with pytest.raises(GuideError, match="built from older code or data. Run this"):
        cached_build(folder, "k3", write, "the model", build_if_missing=False, how_to_build="Run this.")


def test_an_interrupted_build_leaves_the_old_one_and_nothing_else(tmp_path):
    folder = tmp_path / "model"
    cached_build(folder, "k1", lambda f: (f / "weights").write_text("good"), "the model")

    def broken(f):
        (f / "weights").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_build(folder, "k2", broken, "the model")
    assert (folder / "weights").read_text() == "good" and stored_key(folder) == "k1"
    # no temporary folder left (the lock file that keeps two builders apart stays, empty)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", "model"]
    assert (folder / KEY_FILE).exists()


def test_the_key_covers_file_contents_and_settings(tmp_path):
    code = tmp_path / "train.py"
    code.write_text("lr = 1e-3\n")
    before = build_key(code, {"steps": 200})
    assert build_key(code, {"steps": 200}) == before
    assert build_key(code, {"steps": 199}) != before
    code.write_text("lr = 3e-3\n")
    assert build_key(code, {"steps": 200}) != before


def test_a_command_reports_a_guide_error_in_one_line(capsys):
    @cli.command
    def main(argv=None):
        raise GuideError("the thing is missing. Build it: python make_thing.py")

    with pytest.raises(SystemExit) as stop:
        main([])
    assert stop.value.code == 1
    assert capsys.readouterr().err == "error: the thing is missing. Build it: python make_thing.py\n"


def test_the_shared_options_are_spelled_one_way():
    args = cli.parser("An example.\n\nMore.", model=True, out="x.json").parse_args(["--model", "gpt2", "--out", "o"])
    assert (args.model, args.out) == ("gpt2", "o")
    assert "x.json" in cli.parser("An example.", out="x.json").format_help()
    with pytest.raises(SystemExit):
        cli.parser("An example.").parse_args(["--model", "gpt2"])  # no --model where it means nothing


def test_trainer_arguments_carry_the_guides_defaults_and_the_examples_settings(monkeypatch):
    args = training_args(max_steps=7, learning_rate=1e-3)
    assert (args.max_steps, args.learning_rate, args.seed, args.save_strategy, args.report_to) == (7, 1e-3, 0, "no", [])
    assert args.use_cpu and not args.bf16 and args.disable_tqdm
    assert training_args(seed=3).seed == 3  # a setting overrides a default
    monkeypatch.setenv("GUIDE_DEVICE", "cpu")
    assert training_args().use_cpu


def test_a_responses_log_probs_do_not_depend_on_which_side_its_row_is_padded():
    """Left padding shifts a row to the right; its positions must still count from its first
    real token, or a KL estimated on generate()'s left-padded output is computed on other text."""
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=32, n_embd=16, n_layer=1, n_head=2)).eval()
    ids, pad = torch.tensor([[5, 6, 7, 8, 9]]), 3
    completion = torch.tensor([[0, 0, 1, 1, 1]])
    plain = completion_log_probs(model, ids, torch.ones_like(ids), completion)
    left = torch.cat([torch.full((1, 3), pad), ids], 1)
    mask = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.ones_like(ids)], 1)
    padded = completion_log_probs(model, left, mask, torch.cat([torch.zeros(1, 3, dtype=torch.long), completion], 1))
    assert torch.allclose(padded[:, 3:], plain, atol=1e-5)
