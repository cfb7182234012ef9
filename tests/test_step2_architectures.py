"""Step 2: encoder, decoder and encoder-decoder differ in what each position can see."""

import pytest


@pytest.fixture(scope="module")
def table(run_snippet):
    return run_snippet("step2_architecture/architectures.py")


def test_decoder_cannot_see_the_future(table):
    rows = table.metrics("architectures")
    assert rows["GPT-2 (decoder)"]["future_shift"] == 0
    assert rows["BERT (encoder)"]["future_shift"] > 1e-4
    assert rows["T5 (encoder-decoder)"]["future_shift"] > 1e-4


def test_every_family_outputs_logits_per_token(table):
    for row in table.metrics("architectures").values():
        assert row["output_shape"] == [1, 8, 1000]
        assert 100_000 < row["parameters"] < 400_000  # tiny, as the page says


def test_page_shows_this_output(table, page_output):
    page_output("step2_architectures", table.stdout, table.figures())
