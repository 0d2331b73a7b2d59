"""What "the user said it" and "the answer matches" mean: value_in_text, values_equal, answer_in_text."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import Answer, AnswerPointer, Normaliser
from validators import answer_in_text, normalise_text, value_in_text, values_equal


def _answer(value: Any, kind: str = "casefold", tolerance: float = 0.0) -> Answer:
    return Answer(pointers=[AnswerPointer(step=0, pointer="/x")], value=value,
                  normaliser=Normaliser(kind=kind, tolerance=tolerance))  # type: ignore[arg-type]


def test_normalise_text_is_nfkc_casefolded_and_collapses_whitespace() -> None:
    assert normalise_text("  Ｐａｒｉｓ\u00a0\u00a0ﬁne\t\nStraße ") == "paris fine strasse"
    assert normalise_text("") == ""


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        # strings: case, unicode width and ligatures, whitespace
        ("Paris", "what time is it in PARIS?", True),
        ("Paris", "what time is it in ＰＡＲＩＳ?", True),
        ("ﬁnland", "flights to Finland", True),
        ("Straße", "the STRASSE sign", True),
        ("New  York", "flights to new\nyork tomorrow", True),
        ("Europe/Paris", "Europe / Paris", False),
        ("", "anything at all", False),
        ("   ", "anything at all", False),
        # ints and floats
        (5, "for 5 days", True),
        (5, "for 15 days", False),
        (5, "for 2.5 days", False),
        (5.0, "for 5 days", True),
        (5, "for 5.0 days", True),
        (-3, "at -3 degrees", True),
        (48.8566, "latitude 48.8566.", True),
        (48.8566, "latitude 148.85661", False),
        (48.8566, "latitude 48.85661", False),
        (48.8566, "latitude 48.8566, longitude 2.3522", True),
        (1e-05, "a step of 1e-05", True),
        (100.0, "a hundred is 100", True),
        # booleans
        (True, "only if true", True),
        (True, "yes please", True),
        (True, "what is it?", False),
        # lists and objects: every scalar must be stated
        (["EUR", "USD"], "convert usd to eur", True),
        (["EUR", "USD"], "convert usd to gbp", False),
        ([], "anything", True),
        ([2024, 7], "the 7th month of 2024", True),
        ({"city": "Lyon", "days": 3}, "3 days in lyon", True),
        ({"city": "Lyon", "days": 3}, "4 days in lyon", False),
        (None, "anything", True),
    ],
)
def test_value_in_text(value: Any, text: str, expected: bool) -> None:
    assert value_in_text(value, text) is expected


def test_a_rounded_number_is_not_the_value() -> None:
    assert not value_in_text(48.85661234, "go to latitude 48.8566")
    assert not value_in_text(1234567, "about 1.23457e+06 people")


@pytest.mark.parametrize(("value", "text"), [
    ("US", "tell us the time zone"),
    ("Paris", "a comparison of capitals"),
    (False, "I know the answer"),
])
def test_a_value_inside_another_word_is_not_stated(value: Any, text: str) -> None:
    assert not value_in_text(value, text)


def test_an_integer_is_not_the_integer_part_of_a_decimal() -> None:
    assert not value_in_text(5, "for 5.5 days")


@pytest.mark.parametrize(
    ("expected", "got", "kind", "tolerance", "equal"),
    [
        ("Europe/Paris", "EUROPE/PARIS", "casefold", 0.0, True),
        ("Europe/Paris", "  europe/paris ", "casefold", 0.0, True),
        ("Ｐａｒｉｓ", "paris", "casefold", 0.0, True),
        ("Europe/Paris", "EUROPE/PARIS", "exact", 0.0, False),
        ("Europe/Paris", "Europe/Paris", "exact", 0.0, True),
        # casefold only applies to two strings; anything else compares as is
        (["EUR"], ["EUR"], "casefold", 0.0, True),
        (["EUR"], ["eur"], "casefold", 0.0, False),
        (5, 5, "casefold", 0.0, True),
        # numbers: ints and floats, strings that parse, tolerance (relative and absolute)
        (5, 5.0, "number", 0.0, True),
        (5, "5.0", "number", 0.0, True),
        ("48.8566", 48.8566, "number", 0.0, True),
        (48.8566, 48.8566001, "number", 0.0, False),
        (48.8566, 48.8566001, "number", 1e-6, True),
        (48.8566, 48.86, "number", 1e-6, False),
        (0.0, 1e-7, "number", 1e-6, True),
        (float("nan"), float("nan"), "number", 0.1, False),
        ("abc", "abc", "number", 0.0, False),
        (None, 0, "number", 0.0, False),
    ],
)
def test_values_equal(expected: Any, got: Any, kind: str, tolerance: float, equal: bool) -> None:
    normaliser = Normaliser(kind=kind, tolerance=tolerance)  # type: ignore[arg-type]
    assert values_equal(expected, got, normaliser) is equal


@pytest.mark.parametrize(
    ("answer", "text", "found"),
    [
        (_answer(48.8566, "number", 1e-6), "It sits at about 48.8566 degrees north.", True),
        (_answer(48.8566, "number", 1e-6), "It sits at 48.85660 degrees.", True),
        (_answer(48.8566, "number", 1e-6), "It sits at 148.85661 degrees.", False),
        (_answer(48.8566, "number", 1e-3), "Roughly 48.857.", True),
        (_answer(48.8566, "number", 0.0), "Roughly 48.857.", False),
        (_answer(-3, "number"), "It is -3 degrees.", True),
        (_answer(1234, "number"), "1234.0 in total", True),
        (_answer(1234, "number"), "1.234e3 in total", True),
        (_answer(1234, "number"), "no number here", False),
        (_answer("Europe/Paris"), "The zone is EUROPE/PARIS.", True),
        (_answer("Europe/Paris"), "The zone is Europe/Berlin.", False),
        (_answer(["EUR", "CHF"]), "They use chf and eur.", True),
        (_answer(["EUR", "CHF"]), "They use chf.", False),
        # a number answer with a non-number normaliser is found as written
        (_answer(20, "exact"), "20 flights", True),
    ],
)
def test_answer_in_text(answer: Answer, text: str, found: bool) -> None:
    assert answer_in_text(answer, text) is found


@pytest.mark.parametrize(
    ("expected", "got", "same"),
    [
        ("2024-07-14", "2024-07-14", True),
        ("2024-07-14", "14 July 2024", True),
        ("2024-07-14", "July 14, 2024", True),
        ("2024-07-14", "2024-07-15", False),
        ("2024-06-21T20:08:09-07:00", "2024-06-22T03:08:09+00:00", True),  # the same instant
        ("2024-06-21T20:08:09-07:00", "2024-06-21T20:08:10-07:00", False),
        ("2024-07-14", "not a date", False),
    ],
)
def test_date_normaliser(expected: str, got: str, same: bool) -> None:
    assert values_equal(expected, got, Normaliser(kind="date")) is same


def test_answer_checker_reads_dates_in_free_text() -> None:
    answer = Answer(pointers=[AnswerPointer(step=0, pointer="/date")], value="2024-07-14",
                    normaliser=Normaliser(kind="date"))
    assert answer_in_text(answer, "It falls on July 14, 2024.")
    assert answer_in_text(answer, "Bastille Day is 14 July 2024")
    assert not answer_in_text(answer, "It is on 2024-07-15.")
    assert not answer_in_text(answer, "Sometime in July.")
