"""The guide's model as a LangChain LLM, in a short chain: a prompt template fills in a story
opening, the model writes the day, and an output parser turns the text into a typed result.

Run it: ``python snippets/step7_deployment/langchain_llm.py`` (``--model NAME_OR_PATH``). Offline:
the model runs in this process; nothing is sent anywhere.
"""

from transformers.utils import logging

from guide import cli, seed_everything, write_metrics  # cli: the command line every example shares

# isort: split
# --8<-- [start:llm]
from typing import Any

import torch
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models.llms import LLM
from langchain_core.output_parsers import BaseOutputParser
from langchain_core.prompts import PromptTemplate
from pydantic import BaseModel, ConfigDict, PrivateAttr

from guide.model import load_causal_lm
from guide.world import FEEL_BAD, FEEL_GOOD  # how the world's stories end
from step3_pretraining.pretrain import guide_model


class GuideLLM(LLM):
    """Any causal LM from the Hub or a folder (default: the guide's own), run locally. LangChain
    calls ``_call`` with the finished prompt; ``stop`` strings cut the answer where they occur."""

    model_name: str | None = None
    max_new_tokens: int = 40
    temperature: float = 0.0  # 0: greedy
    _loaded: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "guide-local"

    @property
    def _identifying_params(self) -> dict:
        return {
            "model_name": self.model_name or "the guide's model",
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
        }

    def _call(self, prompt, stop=None, run_manager=None, **kwargs) -> str:
        if self._loaded is None:
            self._loaded = load_causal_lm(self.model_name or guide_model())
        tokenizer, model = self._loaded
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        sampling = dict(do_sample=True, temperature=self.temperature, top_k=0) if self.temperature else {}
        with torch.no_grad():
            out = model.generate(
                ids,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **({"do_sample": False} | sampling),
            )
        text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        for s in stop or []:
            text = text.split(s)[0]
        return text
        # --8<-- [end:llm]


# --8<-- [start:parser]
class Day(BaseModel):
    model_config = ConfigDict(frozen=True)
    event: str
    feeling: str
    verdict: str  # "good day" or "bad day", read from the feeling


class DayParser(BaseOutputParser[Day]):
    """'<event>. <Name> <feeling>.' -> Day. Anything else raises OutputParserException, which
    LangChain's retry and fallback helpers know how to handle."""

    def parse(self, text: str) -> Day:
        event, _, rest = text.strip().partition(". ")
        for verdict, feelings in [("good day", FEEL_GOOD), ("bad day", FEEL_BAD)]:
            feeling = next((f for f in feelings if f in rest.split(".")[0]), None)
            if event and feeling:
                return Day(event=event, feeling=feeling, verdict=verdict)
        raise OutputParserException(f"expected '<event>. <Name> <feeling>.', got {text!r}", llm_output=text)

    def get_format_instructions(self) -> str:
        return "Write what happened, then one sentence on how the person felt."


def story_chain(llm):
    """prompt template | model | parser: LangChain's expression language pipes them."""
    prompt = PromptTemplate.from_template("{name} is a {job} in {town}. On {day},")
    return prompt | llm | DayParser()
    # --8<-- [end:parser]


@cli.command
def main(argv=None):
    parser = cli.parser(__doc__, model=True, out="langchain.json")
    args = parser.parse_args(argv)

    logging.set_verbosity_error()
    seed_everything(0)
    # --8<-- [start:run]
    chain = story_chain(GuideLLM(model_name=args.model, temperature=1.0))
    people = [
        {"name": "Mara Lane", "job": "nurse", "town": "Ashford", "day": "Monday"},
        {"name": "Omar Reed", "job": "baker", "town": "Glenrock", "day": "Friday"},
        {"name": "Lucia Brook", "job": "pilot", "town": "Fairhaven", "day": "Tuesday"},
        {"name": "Nadia Pike", "job": "chef", "town": "Elmstead", "day": "Thursday"},
    ]
    # One result, or the parser's error, per input; one at a time, so the seeded samples repeat
    days = chain.batch(people, config={"max_concurrency": 1}, return_exceptions=True)
    for person, day in zip(people, days):
        if isinstance(day, OutputParserException):
            print(f"{person['name']}: the parser refused {day.llm_output.strip()!r}")
        else:
            print(f"{person['name']}: {day!r}")
        # --8<-- [end:run]
    if args.out:
        write_metrics(
            args.out,
            "langchain",
            {p["name"]: d.model_dump() if isinstance(d, Day) else str(d) for p, d in zip(people, days)},
        )


if __name__ == "__main__":
    main()
