"""Slot extractors on Whisper-style transcripts: e-mail, spelling, name, phone, yes/no, choice, number."""

from __future__ import annotations

import pytest

from callbot.agents.nlu.answers import extract_ordinal, parse_yes_no
from callbot.agents.nlu.email import extract_email
from callbot.agents.nlu.names import extract_name
from callbot.agents.nlu.numbers import extract_number, spoken_numbers_to_digits
from callbot.agents.nlu.phone import extract_phone
from callbot.agents.nlu.spelling import extract_spelled

# ----------------------------------------------------------------------------- e-mail

EMAILS = [
    ("john dot smith at example dot com", "john.smith@example.com"),
    ("John.Smith@example.com.", "john.smith@example.com"),
    ("My email is john.smith@example.com", "john.smith@example.com"),
    ("It's JaneDoe@Gmail.com", "janedoe@gmail.com"),
    ("j o h n at gmail dot com", "john@gmail.com"),
    ("J-O-H-N at gmail.com", "john@gmail.com"),
    ("j as in juliet o h n at icloud dot com", "john@icloud.com"),
    ("its m a r i a dot lopez at example dot com", "maria.lopez@example.com"),
    ("john underscore smith at yahoo dot com", "john_smith@yahoo.com"),
    ("mary dash jane at outlook dot com", "mary-jane@outlook.com"),
    ("tom hyphen lee at hot mail dot com", "tom-lee@hotmail.com"),
    ("my email is bob at g mail dot com", "bob@gmail.com"),
    ("kate four two at yahoo dot com", "kate42@yahoo.com"),
    ("Sure, it's john.smith at gmail.com", "john.smith@gmail.com"),
    ("yeah so it's maria dot lopez at example dot com thanks", "maria.lopez@example.com"),
    ("The email is sales at acme dash corp dot co dot uk", "sales@acme-corp.co.uk"),
    ("info@my-company.org", "info@my-company.org"),
    ("I'm at home, you can email me at bob dot jones at outlook dot com", "bob.jones@outlook.com"),
    ("it's anna at gmail", "anna@gmail.com"),
]


@pytest.mark.parametrize(("text", "address"), EMAILS)
def test_email_addresses(text: str, address: str) -> None:
    candidate = extract_email(text)
    assert candidate is not None, text
    assert candidate.address == address


def test_clear_spoken_and_written_addresses_need_no_confirmation() -> None:
    for text in ("john dot smith at example dot com", "john.smith@example.com", "j o h n at gmail dot com"):
        candidate = extract_email(text)
        assert candidate is not None
        assert candidate.confidence >= 0.8 and not candidate.needs_confirmation, text


# Whisper glues "lopez at example" into one word; the local part may be misheard too.
MERGED = [
    ("maria.lopeasetexample.com", "maria.lopeas@example.com"),
    ("My email is maria.lopeasetexample.com.", "maria.lopeas@example.com"),
    ("john.smithetgmail.com", "john.smith@gmail.com"),
    ("johnsmithatgmail.com", "johnsmith@gmail.com"),
    ("janeatacmecorp.com", "jane@acmecorp.com"),
]


@pytest.mark.parametrize(("text", "address"), MERGED)
def test_merged_forms_are_recovered_and_flagged(text: str, address: str) -> None:
    candidate = extract_email(text)
    assert candidate is not None
    assert candidate.address == address
    assert candidate.source == "merged"
    assert candidate.needs_confirmation and candidate.confidence < 0.5
    assert candidate.domain == address.split("@")[1]


def test_misheard_at_and_doubtful_local_parts_need_confirmation() -> None:
    misheard = extract_email("jane.doe as gmail.com")
    assert misheard is not None and misheard.address == "jane.doe@gmail.com" and misheard.needs_confirmation
    glued_words = extract_email("it's john smith at gmail dot com")  # johnsmith? john.smith?
    assert glued_words is not None and glued_words.address == "johnsmith@gmail.com"
    assert glued_words.needs_confirmation
    unknown_domain = extract_email("peter at acme corp dot io")
    assert unknown_domain is not None and unknown_domain.address == "peter@acmecorp.io"
    assert unknown_domain.needs_confirmation


@pytest.mark.parametrize(
    "text", ["call me at 3", "no email", "I'm at home", "meet me at the office", "", "my number is 555 0123"]
)
def test_no_email(text: str) -> None:
    assert extract_email(text) is None


# ----------------------------------------------------------------------------- spelling

SPELLED = [
    ("j o h n", "john"),
    ("J-A-N-E", "jane"),
    ("J. A. N. E.", "jane"),
    ("j as in juliet", "j"),
    ("jay oh aitch en", "john"),
    ("It's L O P E Z.", "lopez"),
    ("double l o y d", "lloyd"),
    ("Juliet Oscar Hotel November", "john"),
    ("the letters are b r o w n", "brown"),
    ("s m i t h 2", "smith2"),
    ("m a r i a dot l o p e z", "maria.lopez"),
    ("I see", ""),
    ("my name is jane", ""),
]


@pytest.mark.parametrize(("text", "letters"), SPELLED)
def test_spelled_letters(text: str, letters: str) -> None:
    assert extract_spelled(text) == letters


# ----------------------------------------------------------------------------- names

NAMES = [
    ("my name is Jane Doe", "Jane Doe"),
    ("This is Jane.", "Jane"),
    ("it's Jane with a y", "Jane"),
    ("Jane, J A N E", "Jane"),
    ("My name's Jon, J O H N.", "John"),  # the spelling wins over what Whisper wrote
    ("Jane Doe.", "Jane Doe"),
    ("this is mike from acme", "Mike"),
    ("hi this is doctor sarah o'connor speaking", "Sarah O'Connor"),
    ("Lopez, L O P E Z", "Lopez"),
    ("um yeah it's Bob", "Bob"),
    ("call me Bill", "Bill"),
    ("Jean-Luc here", "Jean-Luc"),
    ("my name is maria lopez and i'm calling about the course", "Maria Lopez"),
    ("s m i t h", "Smith"),
]


@pytest.mark.parametrize(("text", "name"), NAMES)
def test_names(text: str, name: str) -> None:
    assert extract_name(text) == name


@pytest.mark.parametrize(
    "text", ["I'm calling about the course", "Sure", "I'm interested in the program", "yes", "I'm good thanks", ""]
)
def test_not_a_name(text: str) -> None:
    assert extract_name(text) is None


# ----------------------------------------------------------------------------- phone

PHONES = [
    ("my number is 212-555-0123", "+12125550123"),
    ("(415) 555 2671", "+14155552671"),
    ("it's 212 555 0123", "+12125550123"),
    ("two one two five five five oh one two three", "+12125550123"),
    ("five five five zero one zero one two three four", "+15550101234"),
    ("four one five, five five five, twenty six seventy one", "+14155552671"),
    ("oh my number is two one two five five five zero one two three", "+12125550123"),
    ("eight hundred five five five one two three four", "+18005551234"),
    ("nine one seven double five five oh one two three", "+19175550123"),
    ("plus four four two zero seven nine four six zero one two three", "+442079460123"),
    ("plus one 212 555 0123", "+12125550123"),
]


@pytest.mark.parametrize(("text", "e164"), PHONES)
def test_phone_numbers(text: str, e164: str) -> None:
    assert extract_phone(text) == e164


def test_phone_region() -> None:
    assert extract_phone("020 7946 0123", region="GB") == "+442079460123"


@pytest.mark.parametrize("text", ["double five", "call me at 3", "my zip is 10001", "", "no thanks"])
def test_not_a_phone_number(text: str) -> None:
    assert extract_phone(text) is None


# ----------------------------------------------------------------------------- yes / no

YES_NO = [
    ("yes", True),
    ("Yeah sure.", True),
    ("yep", True),
    ("that works", True),
    ("sounds good", True),
    ("no problem", True),
    ("uh huh", True),
    ("absolutely", True),
    ("of course", True),
    ("that's right", True),
    ("correct", True),
    ("nope", False),
    ("not really", False),
    ("no thanks", False),
    ("No, that's wrong", False),
    ("I don't think so", False),
    ("yeah no", False),
    ("not right now", False),
    ("I'm not sure", None),
    ("maybe", None),
    ("hmm", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "answer"), YES_NO)
def test_yes_no(text: str, answer: bool | None) -> None:
    assert parse_yes_no(text) is answer


# ----------------------------------------------------------------------------- choices

ORDINALS = [
    ("the first one", 1),
    ("second", 2),
    ("number 2", 2),
    ("number two please", 2),
    ("the last one", -1),
    ("option three", 3),
    ("the third please", 3),
    ("2nd", 2),
    ("the latter", -1),
    ("I'll take the fourth", 4),
    ("the second to last", -2),
    ("the 10 am one", None),
    ("the 3rd of December", None),
    ("December 3rd", None),
    ("first thing in the morning", None),
    ("give me a second", None),
    ("the one at 10", None),
]


@pytest.mark.parametrize(("text", "choice"), ORDINALS)
def test_ordinal_choice(text: str, choice: int | None) -> None:
    assert extract_ordinal(text) == choice


# ----------------------------------------------------------------------------- numbers

NUMBERS = [
    ("twenty five", 25),
    ("a hundred", 100),
    ("3.5", 3.5),
    ("two and a half", 2.5),
    ("one point five", 1.5),
    ("about 1,000 dollars", 1000),
    ("five thousand", 5000),
    ("nineteen hundred", 1900),
    ("it costs forty two dollars", 42),
    ("one hundred and five", 105),
    ("a couple", 2),
    ("twelve", 12),
    ("nothing", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "value"), NUMBERS)
def test_numbers(text: str, value: float | None) -> None:
    assert extract_number(text) == value


def test_spoken_numbers_to_digits() -> None:
    assert spoken_numbers_to_digits("in two days") == "in 2 days"
    assert spoken_numbers_to_digits("the twenty first at three thirty") == "the 21st at 3 30"
    assert spoken_numbers_to_digits("the first one") == "the 1st one"
    assert spoken_numbers_to_digits("first thing") == "first thing"
