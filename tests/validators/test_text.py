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
        # stated rounding: the reply says it rounds, or keeps four significant digits
        (_answer(48.8566, "number", 0.0), "Roughly 48.857.", True),
        (_answer(48.8566, "number", 0.0), "It is 48.9.", False),
        (_answer(48.8566, "number", 0.0), "About 49.", False),
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


# --- issue 18: one normaliser for provenance, leakage, answer stated and answer match ---------

# (value, text, keyword arguments, stated?) for value_in_text: the spellings people write must
# match, and a different value written the same way must not.
STATED = [
    # numbers: grouping, trailing zeros, exponents, words, percent
    (3125, "about 3,125 flights", {}, True),
    (3125, "3125.0 flights", {}, True),
    (3125, "3.125e3 flights", {}, True),
    (3125, "3,126 flights", {}, False),
    (3125, "31,250 flights", {}, False),
    (5, "five holidays", {}, True),
    (45, "a humidity of 45%", {}, True),
    (0.45, "45% of them", {}, True),
    (45, "45 percent humidity", {}, True),
    (-5, "a delay of \u22125 minutes", {}, True),
    # units: the same unit in any spelling; another unit of the dimension is another value
    (762, "a route of 762 miles", {"unit": "mile"}, True),
    (762, "a route of 762 mi", {"unit": "mile"}, True),
    (762, "a route of 762 km", {"unit": "mile"}, False),
    (762, "a route of 762 kilometres", {"unit": "miles"}, False),
    (11.51, "wind at 11.51 mph", {"unit": "miles per hour"}, True),
    ("degC", "convert 30 °C to Fahrenheit", {"hint": "unit"}, True),
    ("degC", "convert 30 degrees Celsius", {"hint": "unit"}, True),
    ("kilometer", "how many kilometres is that", {"hint": "unit"}, True),
    ("mile", "26.2 miles in km", {"hint": "unit"}, True),
    ("kilometer", "how many miles is that", {"hint": "unit"}, False),
    # dates: ISO and the written forms; another day is not the date
    ("2026-03-01", "on March 1, 2026", {}, True),
    ("2026-03-01", "on 1 March 2026", {}, True),
    ("2026-03-01", "on the 1st of March 2026", {}, True),
    ("2026-03-01", "on Mar. 1st, 2026", {}, True),
    ("2026-03-01", "on 03/01/2026", {}, True),
    ("2026-03-01", "on 2026-03-01", {}, True),
    ("2026-03-01", "on March 2, 2026", {}, False),
    ("2026-03-01", "in March 2026", {}, False),
    ("2026-03-01", "on March 1, 2025", {}, False),
    (2013, "on July 4, 2013", {}, True),
    # times, hours, months
    ("14:00", "at 2 pm", {}, True),
    ("14:00", "at 2:00 p.m.", {}, True),
    ("14:00", "at 14:00", {}, True),
    ("09:30", "at 9:30 am", {}, True),
    ("14:00", "at 2 am", {}, False),
    ("2013-07-04T04:47:14-05:00", "dawn is at 4:47 a.m.", {}, True),
    ("2013-07-04T04:47:14-05:00", "dawn is at 04:47:14", {}, True),
    ("2013-07-04T04:47:14-05:00", "dawn is at 5:47 a.m.", {}, False),
    (14, "at 2 pm on July 4", {"hint": "hour"}, True),
    (8, "at 08:00", {"hint": "hour"}, True),
    (8, "at 8 pm", {"hint": "hour"}, False),
    (12, "flights in December", {"hint": "month"}, True),
    (12, "flights in November", {"hint": "month"}, False),
    # durations
    ("+9.0h", "Tokyo is 9 hours ahead", {}, True),
    ("+9.0h", "Tokyo is 8 hours ahead", {}, False),
    # case and whitespace; a code and its name where an output gives both
    ("EUR", "prices in eur", {}, True),
    ("FR", "holidays in France", {"aliases": {"fr": {"France"}}}, True),
    ("France", "holidays in FR", {"aliases": {"france": {"FR"}}}, True),
    ("FR", "holidays in Germany", {"aliases": {"fr": {"France"}}}, False),
    ("FR", "holidays in France", {}, False),
]


@pytest.mark.parametrize(("value", "text", "kwargs", "stated"), STATED)
def test_one_normaliser_table(value: Any, text: str, kwargs: dict[str, Any], stated: bool) -> None:
    assert value_in_text(value, text, **kwargs) is stated, (value, text)


# Leakage reads the same way, and also catches any rounding of the answer.
LEAKED = [
    (11.51, "is the wind near 11.5 mph?", True),
    (149, "does it have 149 seats?", True),
    (3125.4, "about 3,125.4 flights", True),
    ("2013-07-04", "what happened on July 4th, 2013?", True),
    ("2013-07-04T04:47:14-05:00", "is dawn at 4:47 am?", True),
    ("United Air Lines Inc.", "is it united air lines inc?", True),
    (11.51, "what is the wind speed at 11:00?", False),
    (1, "one more question about 2013", False),
    (4, "how many departures on July 4, 2013?", False),  # the 4 of a date is the date
    (4, "are there 4 departures on July 4, 2013?", True),
    (2013, "how many departures on July 4, 2013?", True),
]


@pytest.mark.parametrize(("value", "text", "leaked"), LEAKED)
def test_leakage_catches_other_formats(value: Any, text: str, leaked: bool) -> None:
    assert value_in_text(value, text, lenient=True) is leaked


# The answer checker: a natural rewrite passes; a wrong value in the same format does not.
ANSWERED = [
    (_answer(3125, "number"), "There were 3,125 flights.", True),
    (_answer(11.51, "number", 1e-6), "The wind was about 11.5 mph.", True),
    (_answer(11.51, "number", 1e-6), "The wind was 11.5 mph.", False),
    (_answer(11.51, "number", 1e-6), "The wind was about 12.5 mph.", False),
    (_answer(762.0, "number", 1e-6), "It is 762 miles.", True),
    (_answer("2026-03-01", "date"), "It falls on Sunday, March 1st, 2026.", True),
    (_answer("2026-03-01", "date"), "It falls on March 2, 2026.", False),
    (_answer("Europe/Paris"), "That is Europe/Paris time.", True),
]


@pytest.mark.parametrize(("answer", "text", "found"), ANSWERED)
def test_answer_checker_reads_natural_answers(answer: Answer, text: str, found: bool) -> None:
    assert answer_in_text(answer, text) is found


def test_units_decide_a_number_answer() -> None:
    ans = _answer(762.0, "number", 1e-6)
    assert answer_in_text(ans, "The route is 762 miles long.", unit="mile")
    assert not answer_in_text(ans, "The route is 762 km long.", unit="mile")


def test_code_name_aliases_come_from_recorded_outputs() -> None:
    from schemas import code_name_aliases

    aliases = code_name_aliases([{"country_code": "FR", "alpha3": "FRA", "name": "France", "population": 68},
                                 {"carriers": [{"carrier": "UA", "name": "United Air Lines Inc."}]}])
    assert aliases["fr"] == {"France"} and aliases["fra"] == {"France"}
    assert aliases["france"] == {"FR", "FRA"} and aliases["ua"] == {"United Air Lines Inc."}


def test_unsupported_numbers_names_what_no_output_says() -> None:
    from schemas import unsupported_numbers

    assert unsupported_numbers("sqrt(144) + 7 is 25.83", ["what is sqrt(144) + 7?"], [19.0]) == ["25.83"]
    assert unsupported_numbers("It is 19 at 2 pm on July 4, 2013.", ["on 2013-07-04 at 14:00"], [19.0]) == []
    # a day written without its year is still a date: the 1.5B wrote "on February 25" for a holiday on April 1
    holiday = ["2024-01-01", "2024-04-01", 91, "2024-12-25"]
    assert unsupported_numbers("The next one is on February 25, 91 days away.", [], holiday) == ["february 25"]
    assert unsupported_numbers("The next one is on April 1st, 91 days away.", [], holiday) == []
    assert unsupported_numbers("It falls on the 25th of December.", [], holiday) == []


@pytest.mark.parametrize(("param", "code", "name"), [
    ("country_code", "FR", "France"), ("country", "US", "the United States"), ("countryCode", "DEU", "Germany"),
    ("country", "KR", "South Korea"), ("currency_code", "INR", "the Indian Rupee"),
    ("country", "ZZ", None), ("currency", "XAU", None), ("carrier", "UA", None), ("country", "France", None),
])
def test_standard_codes_are_said_by_name(param: str, code: str, name: str | None) -> None:
    from schemas import code_kind, standard_name

    kind = code_kind(param)
    assert (standard_name(kind, code) if kind else None) == name


def test_a_standard_code_and_its_name_are_one_value() -> None:
    from schemas import standard_code_aliases

    aliases = standard_code_aliases([("country_code", "US"), ("year", "2024"), ("carrier", "UA")])
    assert value_in_text("US", "How many holidays does the United States have in 2024?", aliases=aliases)
    assert not value_in_text("US", "How many holidays does Canada have in 2024?", aliases=aliases)
    assert set(aliases) == {"us", "united states"}  # a carrier code is no standard code
