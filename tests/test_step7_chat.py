"""Step 7: the chat page, in a real headless browser, against the real server on loopback."""

import httpx
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from guide.model import load_causal_lm
from step7_deployment.loopback import running_server
from testing_utils import GENERATED, READY_WITHIN, REPO, SERVICE_KEYS, chromium, updating_outputs

PROMPT = "Omar Reed is a baker in Glenrock."


@pytest.fixture(scope="module")
def paced_service(guide_model, tmp_path_factory):
    """The service with a model as wide as GPT-2 small (random weights, the guide's tokenizer).
    The guide's own model writes a whole answer in tens of milliseconds, so on loopback its events
    can reach the browser in a single network read, and whether a page streams would be luck;
    this one takes about half a second, as a real model does."""

    tokenizer, small = load_causal_lm()
    folder = tmp_path_factory.mktemp("paced-model")
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=small.config.vocab_size,
        n_positions=small.config.n_positions,
        n_embd=768,
        n_layer=8,
        n_head=12,
        eos_token_id=tokenizer.eos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    with running_server("--model", folder, env={"GUIDE_API_KEYS": SERVICE_KEYS[3]}, ready_within=READY_WITHIN) as base:
        with httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": SERVICE_KEYS[3]}) as client:
            client.base = base
            yield client


def chat(browser, service, key):
    """Open the chat page, type PROMPT, send it, wait for the end; return the page, what the page
    recorded (its stats, and the times the answer changed) and any request that left the server."""
    page = browser.new_page()
    outside = []
    page.on("request", lambda r: r.url.startswith(service.base) or outside.append(r.url))
    page.goto(service.base + "/")
    # Count every change to the answer as it happens, with a timestamp.
    page.evaluate("""() => {
        window.arrivals = [];
        new MutationObserver(() => window.arrivals.push(performance.now()))
          .observe(document.getElementById('log'), {childList: true, subtree: true, characterData: true});
    }""")
    page.fill("#prompt", PROMPT)
    page.fill("#tokens", "40")
    page.fill("#key", key)
    page.click("#send")
    page.wait_for_function("() => window.chatStats.doneMs !== null", timeout=20_000)
    return page, page.evaluate("window.chatStats"), page.evaluate("window.arrivals"), outside


@pytest.mark.browser
def test_a_reader_types_a_prompt_and_watches_the_answer_stream_in(paced_service):
    expected = paced_service.post("/v1/generate", json={"prompt": PROMPT, "max_new_tokens": 40}).json()
    with chromium() as browser:
        page, stats, arrivals, outside = chat(browser, paced_service, SERVICE_KEYS[3])
        answer = page.locator(".answer").last.inner_text()
        (REPO / "artifacts" / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(REPO / "artifacts" / "screenshots" / "step7-chat-streaming.png"))

        assert answer.strip() == expected["text"].strip()  # the streamed pieces add up to the whole answer
        assert stats["pieces"] >= 5  # piece by piece
        assert len(set(arrivals)) >= 3, "the answer changed only once or twice: it did not stream"
        assert stats["reads"] >= 2, "the whole answer arrived in one network read: nothing streamed"
        assert stats["firstPieceMs"] < stats["doneMs"]
        assert page.locator("#status").inner_text().startswith(f"done: {expected['tokens']} tokens")
        assert outside == [], f"the chat page fetched something outside the server: {outside}"


@pytest.mark.browser
def test_the_guide_model_answers_in_the_chat_and_refusals_show_their_reason(service, pytestconfig):
    expected = service.post("/v1/generate", json={"prompt": PROMPT, "max_new_tokens": 40}).json()
    with chromium() as browser:
        page, _, _, outside = chat(browser, service, SERVICE_KEYS[3])
        (REPO / "artifacts" / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(REPO / "artifacts" / "screenshots" / "step7-chat.png"))
        if updating_outputs(pytestconfig):  # the page's picture of the chat, from this run
            page.set_viewport_size({"width": 900, "height": 460})
            page.screenshot(path=str(GENERATED / "step7_chat.png"))
        assert page.locator(".answer").last.inner_text().strip() == expected["text"].strip()
        assert page.locator("#status").inner_text().startswith(f"done: {expected['tokens']} tokens")
        assert outside == []

        # A refused request shows the server's message, not a blank answer.
        page.fill("#key", "not-a-key")
        page.click("#send")
        page.wait_for_function("() => document.getElementById('status').className === 'error'", timeout=10_000)
        assert page.locator("#status").inner_text().startswith("401: missing or wrong API key")
