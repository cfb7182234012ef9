"""Step 7: the chat page, in a real headless browser, against the real server on loopback."""

import os

import pytest

from conftest import GENERATED, REPO, SERVICE_KEYS, chromium

PROMPT = "Omar Reed is a baker in Glenrock."


@pytest.mark.browser
def test_a_reader_types_a_prompt_and_watches_the_answer_stream_in(service):
    expected = service.post("/v1/generate", json={"prompt": PROMPT, "max_new_tokens": 40}).json()
    with chromium() as browser:
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
        page.fill("#key", SERVICE_KEYS[3])
        page.click("#send")
        page.wait_for_function("() => window.chatStats.doneMs !== null", timeout=20_000)
        stats = page.evaluate("window.chatStats")
        arrivals = page.evaluate("window.arrivals")
        answer = page.locator(".answer").last.inner_text()
        status = page.locator("#status").inner_text()
        (REPO / "artifacts" / "screenshots").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(REPO / "artifacts" / "screenshots" / "step7-chat.png"))
        if os.environ.get("GUIDE_UPDATE_OUTPUTS") == "1":  # the page's picture of the chat, from this run
            page.set_viewport_size({"width": 900, "height": 460})
            page.screenshot(path=str(GENERATED / "step7_chat.png"))

        assert answer.strip() == expected["text"].strip()  # the streamed pieces add up to the whole answer
        assert stats["pieces"] >= 5  # piece by piece
        assert len(set(arrivals)) >= 3, "the answer changed only once or twice: it did not stream"
        assert stats["reads"] >= 2, "the whole answer arrived in one network read: nothing streamed"
        assert stats["firstPieceMs"] < stats["doneMs"]
        assert status.startswith(f"done: {expected['tokens']} tokens")
        assert outside == [], f"the chat page fetched something outside the server: {outside}"

        # A refused request shows the server's message, not a blank answer.
        page.fill("#key", "not-a-key")
        page.click("#send")
        page.wait_for_function("() => document.getElementById('status').className === 'error'", timeout=10_000)
        assert page.locator("#status").inner_text().startswith("401: missing or wrong API key")
