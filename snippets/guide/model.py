"""One way to get a causal language model in every example: the guide's own, or any other.

``load_causal_lm(None)`` returns the tiny GPT-2 that Step 3 pre-trains, loading it from the
cache folder or building it there first (about 30 s, once). ``load_causal_lm("gpt2")`` or a
local folder goes through ``from_pretrained`` as usual. Every failure says what to do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def guide_model_dir() -> Path:
    """Where the guide's model lives: $GUIDE_MODEL_DIR, else ~/.cache/llm-mastery/guide-model."""
    env = os.environ.get("GUIDE_MODEL_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "llm-mastery" / "guide-model"


def _recipe(folder: Path):
    import json

    try:
        return json.loads((folder / "training_log.json").read_text(encoding="utf-8")).get("recipe")
    except (OSError, ValueError):
        return None


def _fail(message: str):
    raise SystemExit(f"error: {message}")


def load_causal_lm(name_or_path: str | os.PathLike | None = None, build_if_missing: bool = True, log=None):
    """(tokenizer, model) in eval mode. ``None`` means the guide's own model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log = log or (lambda msg: print(msg, file=sys.stderr))
    if name_or_path is None:
        from step3_pretraining.pretrain import build, recipe_fingerprint

        folder = guide_model_dir()
        reason = None
        if not (folder / "config.json").exists():
            reason = f"the guide's model is not in {folder} yet"
        elif _recipe(folder) != recipe_fingerprint():
            reason = f"the guide's model in {folder} was built from older code or data"
        if reason:
            if not build_if_missing:
                _fail(f"{reason}. Build it (about 30 s): python snippets/step3_pretraining/pretrain.py")
            log(f"{reason}: building it now (about 30 s, only once)")
            build(save=folder, quiet=True)
        log(f"using the guide's model from {folder}")
        name_or_path = folder

    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not path.is_dir():
            _fail(
                f"could not load a model from {name!r}: there is no folder there. --model takes a "
                "folder written by save_pretrained, or a Hugging Face model id such as 'gpt2'."
            )
        if not (path / "config.json").exists():
            _fail(
                f"could not load a model from {name!r}: the folder has no config.json, so it is "
                "not a saved model (save one with model.save_pretrained(folder))."
            )
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
    except Exception as err:  # noqa: BLE001 - every loader error becomes one clear message
        if path.is_dir():
            _fail(
                f"the checkpoint in {name!r} is incomplete or corrupt ({type(err).__name__}: "
                f"{str(err).splitlines()[0][:200]}). Delete the folder and rebuild it"
                + (": python snippets/step3_pretraining/pretrain.py" if path == guide_model_dir() else ".")
            )
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        _fail(
            f"could not load a model from {name!r}.\n"
            "  --model takes a local folder saved with save_pretrained (it must hold config.json)\n"
            "  or a Hugging Face model id such as 'gpt2', which needs internet the first time"
            + (" (HF_HUB_OFFLINE=1 is set, so nothing is downloaded)" if offline else "")
            + ".\n  Leave --model out to use the guide's own model."
        )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # GPT-2 has none; batching needs one
    return tokenizer, model.eval()
