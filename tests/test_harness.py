"""The harness itself: it must catch what it promises to catch."""

import socket
import textwrap

import pytest

from conftest import outputs_differ  # tests/conftest.py


def _root():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("root_conftest", Path(__file__).parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


root = _root()


@pytest.mark.parametrize(
    "opener, expected",
    [
        ('```python title="snippets/x.py" hl_lines="2"', "```python"),
        ("```py", "```python"),
        ("```{ .python .annotate }", "```python"),
        ("~~~python", "```python"),
        ("````python3", "````python"),
        ("    ```shell", "    ```bash"),
        ("```text", "```text"),
    ],
)
def test_fence_tags_are_normalised(opener, expected):
    text = f"{opener}\nprint(1)\n{opener.strip()[0] * 3}\n"
    assert root.normalise_fences(text).splitlines()[0] == expected


def test_includes_are_expanded_like_the_site():
    expanded = root.expand_snippets('--8<-- "snippets/step2_architecture/attention.py:causal"')
    assert expanded.startswith("def causal_mask(n, device=None):")
    with pytest.raises(Exception, match="no_such_file"):
        root.expand_snippets('--8<-- "snippets/no_such_file.py"')


@pytest.fixture
def page(pytester):
    """A scratch project with our conftest and one page, docs/page.md, holding ``text``."""
    pytester.makeconftest(
        (root.REPO / "conftest.py")
        .read_text(encoding="utf-8")
        .replace("REPO = Path(__file__).resolve().parent", f"REPO = Path({str(pytester.path)!r})")
    )
    (pytester.path / "docs").mkdir()

    def run(text):
        (pytester.path / "docs" / "page.md").write_text(text)
        return pytester.runpytest("docs", "-p", "no:socket")

    return run


def test_a_python_block_skipped_without_reason_fails_collection(page):
    result = page(
        textwrap.dedent("""
        <!--pytest.mark.skip-->
        ```python title="x.py"
        print("never runs")
        ```
    """)
    )
    assert "skipped without a reason" in result.stdout.str()
    assert result.ret != 0


def test_a_console_session_block_fails_collection(page):
    result = page("```pycon\n>>> 1 + 1\n2\n```\n")
    assert "cannot be run or checked" in result.stdout.str()
    assert result.ret != 0


def test_a_broken_block_on_a_page_fails(page):
    result = page("```py\nassert 1 + 1 == 3\n```\n\n```python\nx = 1\n```\n")
    result.assert_outcomes(passed=1, failed=1)


def test_network_is_blocked_but_loopback_is_not():
    from pytest_socket import SocketConnectBlockedError

    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("93.184.215.14", 80), timeout=1)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    socket.create_connection(server.getsockname(), timeout=1).close()
    server.close()


def test_hub_is_offline():
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_output_drift_is_caught_but_timings_are_not():
    page = "loss 0.23 (4.5 s)\n  ' mat'  0.852\n"
    assert outputs_differ(page, "loss 0.23 (9.1 s)\n  ' mat'  0.852\n") is None
    assert outputs_differ(page, "loss 0.231 (4.5 s)\n  ' mat'  0.850\n") is None  # rounding
    assert "0.852" in outputs_differ(page, "loss 0.23 (4.5 s)\n  ' mat'  0.412\n")
    assert "mat" in outputs_differ(page, "loss 0.23 (4.5 s)\n  ' rug'  0.852\n")
