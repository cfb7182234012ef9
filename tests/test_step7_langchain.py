"""Step 7: the guide's model as a LangChain LLM, in a prompt | model | parser chain."""

import pytest
import torch
from langchain_core.exceptions import OutputParserException
from langchain_core.prompts import PromptTemplate

from guide.model import guide_model_dir, load_causal_lm
from step7_deployment.langchain_llm import DayParser, GuideLLM


def test_the_chain_parses_the_days_it_can_and_refuses_the_rest(run_snippet, guide_model, page_output):
    run = run_snippet("step7_deployment/langchain_llm.py")
    page_output("step7_langchain", run.stdout, run.figures())
    days = run.metrics("langchain")
    parsed = [d for d in days.values() if isinstance(d, dict)]
    assert len(parsed) >= 3 and {d["verdict"] for d in parsed} <= {"good day", "bad day"}
    assert any(isinstance(d, str) and "OUTPUT_PARSING_FAILURE" in d for d in days.values())  # one is refused


def test_the_parser_reads_the_feeling_and_rejects_other_text():
    parser = DayParser()
    day = parser.parse(" the diners brought flowers to say thank you. Mara was delighted.")
    assert (day.event, day.feeling, day.verdict) == (
        "the diners brought flowers to say thank you",
        "was delighted",
        "good day",
    )
    assert parser.parse("a storm flooded the harbour. Omar felt hopeless.").verdict == "bad day"
    with pytest.raises(OutputParserException, match="expected"):
        parser.parse("Mara was lost.")


def test_the_wrapper_matches_plain_generate_and_loads_a_local_folder(guide_model):
    prompt = "Omar Reed is a baker in Glenrock."
    tokenizer, model = load_causal_lm()
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=20, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    plain = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    llm = GuideLLM(model_name=str(guide_model_dir()), max_new_tokens=20)  # the from_pretrained path
    chain = PromptTemplate.from_template("{name} is a baker in {town}.") | llm
    assert chain.invoke({"name": "Omar Reed", "town": "Glenrock"}) == plain
    assert llm.invoke(prompt, stop=["."]) == plain.split(".")[0]  # stop strings cut the answer
