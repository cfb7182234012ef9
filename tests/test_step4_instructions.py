"""Step 4: supervised fine-tuning teaches the model to follow instructions about a story."""

import pytest

from guide.model import load_causal_lm
from step4_finetuning.instructions import CHAT_TEMPLATE, sft_example


@pytest.fixture(scope="module")
def run(run_snippet, guide_model, tmp_path_factory):
    # --save as tests/test_step6_injection.py asks, so the run cache trains the model once
    return run_snippet("step4_finetuning/instructions.py", "--save", str(tmp_path_factory.mktemp("instruction-model")))


def test_before_fine_tuning_the_model_cannot_follow_the_format(run):
    assert run.metrics("instructions")["before"]["all"] == 0


def test_after_fine_tuning_it_answers_held_out_instructions(run):
    after = run.metrics("instructions")["after"]
    assert after["good day?"] >= 0.9  # judging the day: learned well
    assert after["job"] >= 0.25 and after["all"] >= 0.35  # copying a word from the story: partly


def test_loss_mask_covers_exactly_the_prompt(guide_model):
    tokenizer, _ = load_causal_lm()
    tokenizer.chat_template = CHAT_TEMPLATE
    example = sft_example(tokenizer, "Was it a good day for Mara?", "yes")
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Was it a good day for Mara?"}], tokenize=False, add_generation_prompt=True
    )
    n_prompt = len(tokenizer(prompt)["input_ids"])
    assert example["labels"][:n_prompt] == [-100] * n_prompt
    assert example["labels"][n_prompt:] == example["input_ids"][n_prompt:]
    assert tokenizer.decode(example["input_ids"][n_prompt:]).strip() == "yes<|endoftext|>"


def test_page_shows_this_output(run, page_output):
    page_output("step4_instructions", run.stdout, run.figures())


def test_copying_a_word_from_the_story_is_learned_far_less_than_judging_the_day(run):
    """The page's point: a two-layer model learns the judgement, not yet the copying."""
    after = run.metrics("instructions")["after"]
    assert after["job"] <= after["good day?"] - 0.3
    assert after["town"] <= after["good day?"] - 0.3
