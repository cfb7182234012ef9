"""One way to get a causal language model in every example: the guide's own, or any other.

``load_causal_lm(None)`` returns the tiny GPT-2 that Step 3 pre-trains, from its folder
(``guide_model_dir()``). Building it is Step 3's job: examples call
``step3_pretraining.pretrain.guide_model()`` first, which builds it there when it is missing or
stale. ``load_causal_lm("gpt2")`` or a local folder goes through ``from_pretrained`` as usual.
Every failure raises a GuideError that says what to do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from guide.errors import GuideError

BUILD_COMMAND = "python snippets/step3_pretraining/pretrain.py"


def guide_model_dir() -> Path:
    """Where the guide's model lives: $GUIDE_MODEL_DIR, else ~/.cache/llm-mastery/guide-model."""
    env = os.environ.get("GUIDE_MODEL_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "llm-mastery" / "guide-model"


def load_causal_lm(name_or_path: str | os.PathLike | None = None, log=None):
    """(tokenizer, model) in eval mode. ``None`` means the guide's own model, which must be
    built already (``step3_pretraining.pretrain.guide_model()`` builds it)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if name_or_path is None:
        name_or_path = guide_model_dir()
        if not (name_or_path / "config.json").exists():
            raise GuideError(
                f"the guide's model is not in {name_or_path} yet. Build it (about a minute): {BUILD_COMMAND}"
            )
    if Path(name_or_path).expanduser().resolve() == guide_model_dir().resolve():
        log(f"using the guide's model from {guide_model_dir()}")

    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not path.is_dir():
            raise GuideError(
                f"could not load a model from {name!r}: there is no folder there. --model takes a "
                "folder written by save_pretrained, or a Hugging Face model id such as 'gpt2'."
            )
        if not (path / "config.json").exists():
            raise GuideError(
                f"could not load a model from {name!r}: the folder has no config.json, so it is "
                "not a saved model (save one with model.save_pretrained(folder))."
            )
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
    except Exception as err:  # noqa: BLE001 - every loader error becomes one clear message
        if path.is_dir():
            raise GuideError(
                f"the checkpoint in {name!r} is incomplete or corrupt ({type(err).__name__}: "
                f"{str(err).splitlines()[0][:200]}). Delete the folder and rebuild it"
                + (f": {BUILD_COMMAND}" if path == guide_model_dir() else ".")
            ) from err
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        raise GuideError(
            f"could not load a model from {name!r}.\n"
            "  --model takes a local folder saved with save_pretrained (it must hold config.json)\n"
            "  or a Hugging Face model id such as 'gpt2', which needs internet the first time"
            + (" (HF_HUB_OFFLINE=1 is set, so nothing is downloaded)" if offline else "")
            + ".\n  Leave --model out to use the guide's own model."
        ) from err
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # GPT-2 has none; batching needs one
    return tokenizer, model.eval()


INSTRUCTION_MODEL_HELP = "an instruction-tuned model: a Hugging Face id or local folder"
TUNE_COMMAND = "python snippets/step4_finetuning/instructions.py --save DIR"


def load_instruction_model(parser, name_or_path, why: str):
    """(tokenizer, model) for an example that needs a model that follows instructions (Step 4
    saves the guide's); a missing --model, or a model without a chat template, is reported by
    ``parser`` with what to do. ``why`` says what the example needs the model for."""
    if not name_or_path:
        parser.error(f"--model is required: {why}. Make the guide's with `{TUNE_COMMAND}`, then pass --model DIR")
    tokenizer, model = load_causal_lm(name_or_path)
    if not tokenizer.chat_template:
        parser.error(f"{name_or_path} has no chat template: pass an instruction-tuned model")
    return tokenizer, model
