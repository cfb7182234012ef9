"""The built site: complete, offline, and rendering in a real (headless) browser.

The site is built once per session with ``mkdocs build --strict`` (the labs show their recorded
runs, tests/test_labs.py), unless GUIDE_SITE_DIR points at a fresh build (.ci/run passes the one
it just made). It is served on
127.0.0.1 and driven with Playwright in Debian's Chromium; screenshots go to
artifacts/screenshots/ (CI uploads them).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from testing_utils import REPO, chromium

SCREENSHOTS = REPO / "artifacts" / "screenshots"
CDN_HOSTS = (
    "unpkg.com",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "fonts.googleapis.com",
    "fonts.gstatic.com",
    "ajax.googleapis.com",
    "code.jquery.com",
    "cdn.plot.ly",
    "polyfill.io",
    "esm.sh",
    "cdn.skypack.dev",
    "use.fontawesome.com",
)
# MathJax's accessibility code names its speech-rule engine on jsdelivr. It loads only when a
# reader turns speech on in MathJax's context menu, which mathjax-config.js switches off.
ALLOWED_CDN_MENTIONS = {"assets/vendor/mathjax/tex-mml-chtml.js": {"cdn.jsdelivr.net"}}


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    prebuilt = os.environ.get("GUIDE_SITE_DIR")
    if prebuilt:
        path = Path(prebuilt)
        assert (path / "index.html").exists(), f"GUIDE_SITE_DIR={prebuilt} holds no built site"
        return path
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-5000:]}"
    return out


# --- the files ------------------------------------------------------------------------------


def test_every_page_and_the_404_and_sitemap_are_built(site):
    for page in [
        "index.html",
        "404.html",
        "step-1-basics/index.html",
        "step-2-architecture/index.html",
        "labs/step1_lab/index.html",
        "labs/step2_lab/index.html",
        "search/search_index.json",
    ]:
        assert (site / page).exists(), page
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    assert "https://llm-mastery.example.org/step-2-architecture/" in sitemap


def test_no_cdn_url_in_the_built_html_or_javascript(site):
    offenders = []
    for path in site.rglob("*"):
        if path.suffix not in {".html", ".js", ".css"}:
            continue
        rel = path.relative_to(site).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        for host in CDN_HOSTS:
            if host in text and host not in ALLOWED_CDN_MENTIONS.get(rel, set()):
                offenders.append(f"{rel}: {host}")
    assert not offenders, "the site must work offline, but these files name a CDN:\n" + "\n".join(offenders)
    assert not re.search(r"<link[^>]+fonts\.", (site / "index.html").read_text(encoding="utf-8"))


def test_labs_offer_a_notebook_download(site):
    html = (site / "labs/step2_lab/index.html").read_text(encoding="utf-8")
    assert 'href="step2_lab.ipynb"' in html
    notebook = json.loads((site / "labs/step2_lab/step2_lab.ipynb").read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    assert any("measure(" in "".join(cell["source"]) for cell in notebook["cells"])


def test_pages_link_to_their_source_for_editing(site):
    html = (site / "step-2-architecture/index.html").read_text(encoding="utf-8")
    assert "llm-mastery-in-seven-steps/edit/main/docs/step-2-architecture.md" in html


def test_included_snippets_and_outputs_are_on_the_page(site):
    html = (site / "step-2-architecture/index.html").read_text(encoding="utf-8")
    assert "scaled_dot_product_attention" in html and "--8&lt;--" not in html
    generated = (REPO / "docs/generated/step2_attention.txt").read_text(encoding="utf-8")
    assert generated.splitlines()[1].strip() in html  # the real output, not a typed copy


# --- the browser ----------------------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base_url(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(base_url):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.requests, context.failures = [], []
        context.on("request", lambda r: context.requests.append(r.url))
        context.on("response", lambda r: r.status >= 400 and context.failures.append(f"{r.status} {r.url}"))
        context.on("requestfailed", lambda r: context.failures.append(f"failed {r.url}"))
        yield context


@pytest.fixture
def visit(browser, base_url):
    """visit(path, name) opens a page; after the test (passed or failed) it is screenshotted
    to artifacts/screenshots/<name>.png and closed."""
    opened = []

    def go(path, name):
        page = browser.new_page()
        page.goto(base_url + path)
        opened.append((page, name))
        return page

    yield go
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for page, name in opened:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        page.close()


@pytest.mark.browser
def test_home_renders_with_the_mermaid_diagram(visit):
    page = visit("/", "home")
    assert "LLM Mastery" in page.title()
    assert page.locator("h1").first.inner_text().startswith("LLM Mastery")
    # Material draws each diagram into a (closed) shadow root; a drawn one has real height.
    diagram = page.locator("div.mermaid").first
    diagram.wait_for(state="attached", timeout=20_000)
    page.wait_for_function(
        "() => { const d = document.querySelector('div.mermaid'); return d && d.getBoundingClientRect().height > 80 }",
        timeout=20_000,
    )
    diagram.scroll_into_view_if_needed()


@pytest.mark.browser
def test_step2_typesets_math_and_offers_code_copy(visit):
    page = visit("/step-2-architecture/", "step-2")
    page.wait_for_selector("mjx-container", timeout=20_000)
    assert page.locator(".arithmatex mjx-container").count() >= 3
    assert "\\mathrm{Attention}" not in page.locator("article").inner_text()  # raw TeX is gone
    assert page.locator("button[data-md-type=copy], button.md-clipboard").count() >= 5
    assert page.locator(".tabbed-set").count() >= 1
    page.locator(".arithmatex mjx-container").first.scroll_into_view_if_needed()


@pytest.mark.browser
def test_lab_page_shows_outputs_and_plots(visit):
    page = visit("/labs/step2_lab/", "lab-step-2")
    assert page.locator(".jp-OutputArea-output").count() >= 3
    plots = page.locator(".jp-OutputArea-output img")
    assert plots.count() >= 2
    assert plots.first.evaluate("img => img.naturalWidth") > 300
    assert "row sums" in page.locator("article").inner_text()
    page.wait_for_selector(".jp-RenderedMarkdown mjx-container", timeout=20_000)  # $n \times n$
    download = page.locator("a[download]")
    assert download.count() == 1
    notebook_url = download.evaluate("a => a.href")  # resolved against the page
    assert notebook_url.endswith("/labs/step2_lab/step2_lab.ipynb")
    assert page.request.get(notebook_url).json()["nbformat"] == 4
    plots.first.scroll_into_view_if_needed()


@pytest.mark.browser
def test_step7_shows_the_benchmark_plot_the_chat_and_the_manifests(visit):
    """Step 7 is a section: the overview draws the diagram, and each sub-page shows its part."""
    pages = {}
    for path, name, src in (
        ("/step-7/scaling/", "step-7-scaling", "step7_benchmark.png"),
        ("/step-7/service/", "step-7-service", "step7_chat.png"),
    ):
        page = pages[name] = visit(path, name)
        image = page.locator(f"img[src$='{src}']")
        image.scroll_into_view_if_needed()
        page.wait_for_function(
            f"() => document.querySelector(\"img[src$='{src}']\").naturalWidth > 400", timeout=10_000
        )
    assert "micro-batches of up to 16" in pages["step-7-scaling"].locator("article").inner_text()
    page = visit("/step-7/operating/", "step-7-operating")
    assert "kind: HorizontalPodAutoscaler" not in page.locator("article").inner_text()  # a tab, hidden
    page.get_by_text("HorizontalPodAutoscaler", exact=True).first.click()
    assert "averageUtilization: 70" in page.locator("article").inner_text()
    page = visit("/step-7-deployment/", "step-7")
    page.wait_for_function(
        "() => [...document.querySelectorAll('div.mermaid')].some(d => d.getBoundingClientRect().height > 80)",
        timeout=20_000,
    )


@pytest.mark.browser
def test_search_finds_attention(visit):
    page = visit("/", "search")
    page.wait_for_load_state("networkidle")
    page.keyboard.press("s")  # Material's shortcut focuses the search box, as a reader would
    page.keyboard.type("attention")
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=20_000)
    links = [link.get_attribute("href") for link in page.locator(".md-search-result__link").all()]
    assert any("step-2-architecture" in link for link in links), links


@pytest.mark.browser
def test_no_request_left_localhost(browser, base_url):
    """Runs after the page tests above (pytest keeps file order) and checks all they loaded."""
    assert browser.requests, "the browser tests made no requests at all"
    outside = [u for u in browser.requests if not u.startswith((base_url, "data:", "blob:"))]
    assert not outside, f"requests left localhost: {outside}"
    assert not browser.failures, f"requests failed: {browser.failures}"
