"""app/state.py: validation of URL query parameters (types, ranges, lengths, malicious values) and
the encode/parse round trip. Pure functions: no streamlit session needed."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.state import MAX_VALUES, Param, encode_params, lines_to_texts, parse_param, parse_params, texts_to_lines

AD = Param("ad", "float", 0.3, lo=0.01, hi=1.0, label="α^Δ", range_name="this model's range")
SEED = Param("seed", "int", 0, lo=0, hi=2**31 - 1, label="seed")
TEXT = Param("a", "text", "default sentence", max_chars=50, label="sentence A")
TEXTS = Param("s", "texts", ["d1", "d2"], max_chars=20, max_items=3, label="sentences")
CHOICE = Param("colour", "choice", "weight", choices=("weight", "position"), label="colour")
FLAG = Param("on", "bool", False, label="flag")
ALL = [AD, SEED, TEXT, TEXTS, CHOICE, FLAG]


@pytest.mark.parametrize(
    "raw, value", [("0.5", 0.5), ("1", 1.0), ("0.01", 0.01), (" 0.2 ", 0.2), ("1e-1", 0.1), (["0.9", "0.4"], 0.4)]
)
def test_float_valid(raw, value):
    assert parse_param(AD, raw) == (pytest.approx(value), None)


@pytest.mark.parametrize(
    "raw",
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e400",
        "0x10",
        "",
        " ",
        "1,5",
        "0.5.1",
        "abc",
        "<script>alert(1)</script>",
        "1" * 5000,
        "0.5; DROP TABLE",
        "\x00",
        "½",
        "٣",
    ],
)
def test_float_invalid_falls_back(raw):
    value, notice = parse_param(AD, raw)
    assert value == 0.3 and notice
    assert raw.strip() not in notice or not raw.strip()


@pytest.mark.parametrize("raw", ["-1", "0", "1.0001", "5", "1e308", "-0.5"])
def test_float_out_of_range(raw):
    value, notice = parse_param(AD, raw)
    assert value == 0.3 and "is outside this model's range [0.01, 1]; using the default, 0.3." in notice
    assert notice.startswith("α^Δ: ")  # names the control


def test_out_of_range_notice_names_the_control_and_the_parsed_number():
    """'α^Δ: 5 is outside this model's range [0.01, 1]; using the default, 0.3.': the control, the
    number as parsed (never the raw text), the range and what is used instead."""
    assert parse_param(AD, "5")[1] == "α^Δ: 5 is outside this model's range [0.01, 1]; using the default, 0.3."
    assert parse_param(AD, " 5.000 ")[1].startswith("α^Δ: 5 is outside")
    assert parse_param(SEED, "-3")[1] == "seed: -3 is outside the allowed range [0, 2147483647]; using the default, 0."
    unbounded = Param("x", "float", 1.0, lo=0.0, label="x")
    assert parse_param(unbounded, "-2")[1] == "x: -2 is outside the allowed range [0, inf]; using the default, 1."


@pytest.mark.parametrize("param", ALL)
def test_every_notice_starts_with_the_control(param):
    for raw in ("<b>bad</b>", "9" * 30, ["x" * 5000] * 9):
        _, notice = parse_param(param, raw)
        if notice:
            assert notice.startswith(f"{param.title}: "), notice


@pytest.mark.parametrize("raw, value", [("0", 0), ("42", 42), ("+7", 7), (str(2**31 - 1), 2**31 - 1)])
def test_int_valid(raw, value):
    assert parse_param(SEED, raw) == (value, None)


@pytest.mark.parametrize("raw", ["-3", str(2**31), "99999999999999", "1.5", "1e3", "seven", "", "0b1", "٣"])
def test_int_invalid(raw):
    value, notice = parse_param(SEED, raw)
    assert value == 0 and notice


def test_text_cut_and_blank():
    assert parse_param(TEXT, "hello") == ("hello", None)
    value, notice = parse_param(TEXT, "x" * 10_000)
    assert value == "x" * 50 and "cut" in notice
    assert parse_param(TEXT, "   ")[0] == "default sentence"
    assert parse_param(TEXT, "<script>alert(1)</script>")[0] == "<script>alert(1)</script>"  # shown as text later


def test_texts_lists():
    assert parse_param(TEXTS, ["a", "b"]) == (["a", "b"], None)
    assert parse_param(TEXTS, "single") == (["single"], None)
    value, notice = parse_param(TEXTS, ["a", "", "  ", "b"])
    assert value == ["a", "b"] and notice is None
    value, notice = parse_param(TEXTS, [f"s{i}" for i in range(10)])
    assert value == ["s0", "s1", "s2"] and "more than 3" in notice
    value, notice = parse_param(TEXTS, ["y" * 1000])
    assert value == ["y" * 20] and "cut" in notice
    assert parse_param(TEXTS, ["", " "]) == (
        ["d1", "d2"],
        "sentences: the link's value is not valid; using the default.",
    )


def test_repeated_keys_are_bounded():
    many = ["0.5"] * (MAX_VALUES * 100)
    assert parse_param(AD, many) == (0.5, None)
    value, _ = parse_param(TEXTS, ["t"] * 10_000)
    assert len(value) == 3


def test_choice_and_bool():
    assert parse_param(CHOICE, "position") == ("position", None)
    assert parse_param(CHOICE, "Position")[0] == "weight"
    assert parse_param(CHOICE, "../../etc/passwd")[1]
    assert parse_param(FLAG, "true") == (True, None)
    assert parse_param(FLAG, "0") == (False, None)
    assert parse_param(FLAG, "maybe") == (False, "flag: the link's value is not valid; using the default, off.")


def test_non_string_values_do_not_crash():
    for raw in (None, 3, 0.5, b"0.5", {"a": 1}, [None, 2]):
        parse_param(AD, raw)
        parse_param(TEXTS, raw)
    assert parse_param(AD, None) == (0.3, None)
    assert parse_param(AD, []) == (0.3, None)


def test_parse_params_only_known_names():
    values, notices = parse_params(ALL, {"ad": "0.5", "evil": "<script>", "seed": "x", "colour": "position"})
    assert values == {"ad": 0.5, "seed": 0, "colour": "position"}
    assert len(notices) == 1 and "seed" in notices[0]


def test_notices_never_repeat_the_value():
    evil = "<img src=x onerror=alert(1)>"
    _, notices = parse_params(ALL, {p.name: evil for p in ALL})
    assert notices and all(evil not in n for n in notices)


def test_encode_params_round_trip_example():
    values = {"ad": 0.0316, "seed": 7, "a": "A cat.", "s": ["one", "two"], "colour": "position", "on": True}
    encoded = encode_params(ALL, values)
    assert encoded == {"ad": "0.0316", "seed": "7", "a": "A cat.", "s": ["one", "two"], "colour": "position", "on": "1"}
    assert parse_params(ALL, encoded) == (values, [])


@settings(max_examples=200, deadline=None)
@given(
    ad=st.floats(0.01, 1.0),
    seed=st.integers(0, 2**31 - 1),
    text=st.text(min_size=1, max_size=50).filter(str.strip),
    texts=st.lists(st.text(min_size=1, max_size=20).filter(str.strip), min_size=1, max_size=3),
)
def test_encode_parse_round_trip(ad, seed, text, texts):
    values = {"ad": ad, "seed": seed, "a": text, "s": texts}
    parsed, notices = parse_params(ALL, encode_params(ALL, values))
    assert notices == []
    assert math.isclose(parsed["ad"], ad, rel_tol=1e-5) and parsed["seed"] == seed
    assert parsed["a"] == text and parsed["s"] == texts


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.text(max_size=3000), st.lists(st.text(max_size=200), max_size=50)))
def test_any_input_gives_a_valid_value(raw):
    for p in ALL:
        value, notice = parse_param(p, raw)
        if p.kind == "float":
            assert math.isfinite(value) and p.lo <= value <= p.hi
        elif p.kind == "int":
            assert isinstance(value, int) and p.lo <= value <= p.hi
        elif p.kind == "text":
            assert isinstance(value, str) and 0 < len(value) <= p.max_chars
        elif p.kind == "texts":
            assert 1 <= len(value) <= p.max_items and all(len(v) <= p.max_chars for v in value)
        elif p.kind == "choice":
            assert value in p.choices
        assert notice is None or isinstance(notice, str)


def test_lines_and_texts():
    assert lines_to_texts("a\n\n b \n") == ["a", " b "]
    assert texts_to_lines(["a", "b"]) == "a\nb"
    assert lines_to_texts(None) == []
