"""Step 1: a larger BPE vocabulary spends fewer tokens per word, until the text runs out of merges."""

import json

import pytest

from step1_basics.vocabulary import SENTENCE, SIZES, WIDTH, parser, run
from testing_utils import refused


@pytest.fixture(scope="module")
def vocabulary(run_snippet):
    return run_snippet("step1_basics/vocabulary.py")


@pytest.fixture(scope="module")
def rows(vocabulary):
    return vocabulary.metrics("vocabulary")["rows"]


def test_more_merges_mean_fewer_tokens_per_word(rows):
    per_word = [r["tokens_per_word"] for r in rows]
    pairs = list(zip(rows, rows[1:]))
    assert sum(b["vocabulary"] > a["vocabulary"] for a, b in pairs) >= 3, "larger sizes should learn more merges"
    for a, b in pairs:
        if b["vocabulary"] > a["vocabulary"]:
            assert b["tokens_per_word"] < a["tokens_per_word"], per_word
    # bytes only: about one token per character; the largest: close to one per word
    assert per_word[0] > 4, per_word
    assert per_word[-1] < 1.5, per_word
    assert per_word[0] / per_word[-1] > 3, per_word


def test_words_are_kept_whole_once_merges_cover_them(rows):
    whole = [r["whole_pieces"] for r in rows]
    assert whole == sorted(whole), whole
    assert whole[0] < 0.3 and whole[-1] > 0.95, whole


def test_the_small_world_runs_out_of_merges(rows):
    """BPE merges only inside a word, so once every word of the stories is one token there is
    nothing left to merge and the largest size asked for is never reached. The page says so."""
    last = rows[-1]
    assert last["vocabulary"] < last["asked"], last
    assert last["sentence"] == ["Mara", "ĠReed", "Ġis", "Ġa", "Ġnurse", "Ġin", "ĠAshford", "."]


def test_byte_level_bpe_is_lossless_at_every_size(rows):
    assert all(r["lossless"] for r in rows)
    assert rows[0]["vocabulary"] == 256 and len(rows[0]["sentence"]) == len(SENTENCE)


def test_the_embedding_table_grows_with_the_vocabulary(rows):
    assert [r["embedding_weights"] for r in rows] == [r["vocabulary"] * WIDTH for r in rows]


def test_a_lab_calling_run_gets_what_the_command_wrote(vocabulary):
    """Labs call run() in process; it must be the same lesson as the command line's."""
    in_process = json.loads(json.dumps(run(parser().parse_args([]))))
    assert in_process == vocabulary.metrics("vocabulary")
    assert [r["asked"] for r in in_process["rows"]] == list(SIZES)


def test_page_shows_this_output(vocabulary, page_output):
    page_output("step1_vocabulary", vocabulary.stdout, vocabulary.figures())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sizes", "100"], "--sizes must be at least 256"),
        (["--sizes", "many"], "invalid int value: 'many'"),
    ],
)
def test_bad_input_gets_a_clear_message(tmp_path, args, message, example):
    refused(example("step1_basics/vocabulary.py", *args, cwd=tmp_path, expect_ok=False), message)
