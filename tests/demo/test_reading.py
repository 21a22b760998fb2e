"""The demo's reading of text (``bridge.demo.reading``): what kind it is, what it holds, and how that is told."""

import pytest

from bridge.demo.analysis import DataError
from bridge.demo.reading import detect, parse_input, sentence


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("test data", "text"),
        ("[1, 2]", "json"),
        ('"quoted"', "json"),
        ("null", "json"),
        ("a,b\n1,2\n3,4\n", "csv"),
        ("a,b\n\n1,2\n", "csv"),
        ("{", "text"),
        ("[1, NaN]", "text"),
        ("Hello, world", "text"),  # one line: a header without rows is no table
        ("a,b\n1,2,3\n", "text"),  # a row wider than the header
        ("a,a\n1,2\n", "text"),  # a header naming one column twice
        ("one\ntwo\n", "text"),  # no commas: one column is a list of lines, not a table
        ("", "text"),
    ],
)
def test_detect_reads_json_then_a_table_then_falls_back_to_text(text: str, kind: str) -> None:
    assert detect(text) == kind


def test_every_summary_counts_characters_words_and_lines_whatever_the_kind() -> None:
    assert parse_input("[1, 2]") == {
        "kind": "json",
        "count": 2,
        "characters": 6,
        "words": 2,
        "lines": 1,
        "type": "array",
        "value": [1, 2],
    }
    assert parse_input("a,b\n1,2\n3,4\n") == {
        "kind": "csv",
        "count": 2,
        "characters": 12,
        "words": 3,
        "lines": 3,
        "columns": ["a", "b"],
        "records": [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}],
    }
    assert parse_input("one two\nthree") == {
        "kind": "text",
        "count": 2,
        "characters": 13,
        "words": 3,
        "lines": 2,
        "value": "one two\nthree",
    }


def test_a_chosen_kind_is_read_strictly_and_says_where_it_breaks() -> None:
    assert parse_input("[1, 2]", "text")["kind"] == "text"
    with pytest.raises(DataError, match="input is not valid JSON: line 1 column 2"):
        parse_input("{", "json")
    with pytest.raises(DataError, match="NaN is not a JSON number"):
        parse_input("[1, NaN]", "json")
    with pytest.raises(DataError, match="input has no CSV header line"):
        parse_input("", "csv")


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("test data", "text: 1 line, 2 words, 9 characters"),
        ("", "text: 0 lines, 0 words, 0 characters"),
        ("[]", "JSON array of 0 items: 1 line, 1 word, 2 characters"),
        ('{"a": 1, "b": 2}', "JSON object with 2 keys: 1 line, 4 words, 16 characters"),
        ("true", "JSON boolean: 1 line, 1 word, 4 characters"),
        ("x,y\n1,2\n3,4", "CSV: 2 records under 2 columns (x, y): 3 lines, 3 words, 11 characters"),
    ],
)
def test_sentence_tells_the_kind_its_size_and_the_counts(text: str, told: str) -> None:
    assert sentence(parse_input(text)) == told
