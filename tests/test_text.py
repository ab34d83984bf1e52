"""The Shakespeare corpus, the character and BPE tokenizers, and the language-model dataset."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinytorch as tt
from tinytorch.data.text import CORPUS_PATH, BPETokenizer, CharTokenizer, Shakespeare, shakespeare_text

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_shakespeare.py"
SPEC = importlib.util.spec_from_file_location("make_shakespeare", SCRIPT)
make_shakespeare = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(make_shakespeare)


def test_the_shipped_corpus_is_about_a_megabyte_of_plain_dialogue() -> None:
    raw = CORPUS_PATH.read_bytes()
    assert 900_000 < len(raw) < 1_300_000
    text = raw.decode("ascii")
    assert "\r" not in text and "Gutenberg" not in text and "\n\n\n" not in text
    assert text.startswith("ACT I") and text.count("\nACT I.\n") + text.count("\nACT 1\n") >= 6
    assert "To be, or not to be" in text  # Hamlet is the first play


def test_cleaning_drops_licence_title_page_and_untidy_whitespace() -> None:
    play = ("The Project Gutenberg EBook of X\r\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\r\n"
            "X\r\n\r\nDRAMATIS PERSONAE\r\nA, a man\r\n\r\nACT I.\r\nScene I.   \r\n\r\n\r\n\r\n"
            "A.\r\nHello\u2014there.\r\n"
            "*** END OF THIS PROJECT GUTENBERG EBOOK X ***\r\nlicence text\r\n")
    assert make_shakespeare.clean(play) == "ACT I.\nScene I.\n\nA.\nHellothere.\n"


def test_the_corpus_takes_plays_in_order_up_to_the_target() -> None:
    texts = {name: f"ACT I.\n{name}\n" for name in make_shakespeare.PLAYS}
    assert make_shakespeare.corpus_from(texts, target=1) == "ACT I.\nhamlet\n"
    both = make_shakespeare.corpus_from(texts, target=len("ACT I.\nhamlet\n") + 2)
    assert both == "ACT I.\nhamlet\n\nACT I.\nmacbeth\n"


def test_char_tokenizer_round_trips_and_names_unknown_characters() -> None:
    tok = CharTokenizer("hello world")
    assert tok.vocab_size == 8 and tok.chars[0] == " "
    assert tok.decode(tok.encode("low door")) == "low door"
    assert tok.decode(tt.tensor(tok.encode("he"))) == "he"
    with pytest.raises(KeyError, match="'z'"):
        tok.encode("zebra")


def test_bpe_learns_the_most_frequent_pair_first_and_never_crosses_words() -> None:
    tok = BPETokenizer.train("ab ab ab", vocab_size=258)
    assert tok.merges == [(ord("a"), ord("b")), (ord(" "), 256)]
    assert tok.vocab[257] == b" ab"
    assert tok.encode("ab ab") == [256, 257]
    tok = BPETokenizer.train("xy xy xy", vocab_size=300)  # only two merges exist within the chunks
    assert len(tok.merges) == 2 and tok.vocab_size == 258


def test_bpe_merges_runs_of_one_symbol_left_to_right() -> None:
    tok = BPETokenizer([(ord("a"), ord("a"))])
    assert tok.encode("aaaa") == [256, 256]
    assert tok.encode("aaa") == [256, ord("a")]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_bpe_decode_inverts_encode_on_any_text(s: str) -> None:
    tok = BPETokenizer.train("the theme of the thesis: then there, the other " * 3, vocab_size=280)
    assert tok.decode(tok.encode(s)) == s


def test_bpe_on_the_corpus_compresses_and_reloads_from_its_state() -> None:
    text = shakespeare_text()[:100_000]
    tok = BPETokenizer.train(text, vocab_size=400)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert len(ids) < 0.6 * len(text.encode())  # frequent words became single tokens
    again = BPETokenizer.from_state_dict(tok.state_dict())
    assert again.merges == tok.merges and again.encode(text) == ids
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer.train(text, vocab_size=100)
    with pytest.raises(ValueError, match="does not exist"):
        BPETokenizer([(300, 1)])


def test_shakespeare_windows_are_next_token_pairs() -> None:
    train, val = Shakespeare("train", block_size=32), Shakespeare("val", block_size=32)
    text = shakespeare_text()
    assert len(train.data) + len(val.data) == len(text)
    assert abs(len(train.data) / len(text) - 0.9) < 1e-4
    x, y = train[1000]
    assert x.dtype is tt.int64 and x.shape == y.shape == (32,)
    assert x[1:].tolist() == y[:-1].tolist()
    assert train.tokenizer.decode(x) == text[1000:1032]
    assert val.tokenizer.decode(val[0][0]) == text[len(train.data):len(train.data) + 32]
    assert len(train) == len(train.data) - 32
    with pytest.raises(IndexError):
        train[len(train)]
    with pytest.raises(ValueError, match="split"):
        Shakespeare("test")
    with pytest.raises(ValueError, match="block_size"):
        Shakespeare("val", block_size=10**7)


def test_shakespeare_batches_through_a_dataloader() -> None:
    ds = Shakespeare("val", block_size=16)
    x, y = next(iter(tt.utils.data.DataLoader(ds, batch_size=4)))
    assert x.shape == y.shape == (4, 16)
    np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])
