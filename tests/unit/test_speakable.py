"""Tests for the TTS text normaliser and the sentence splitter."""

from __future__ import annotations

import re

import pytest

from callbot.audio.speakable import split_sentences, to_speakable

PHONE_555 = "five five five, one two three, four five six seven"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1 555 123 4567", f"plus one, {PHONE_555}"),
        ("+1 (555) 123-4567", f"plus one, {PHONE_555}"),
        ("+1-555-123-4567", f"plus one, {PHONE_555}"),
        ("+15551234567", f"plus one, {PHONE_555}"),
        ("(555) 123-4567", PHONE_555),
        ("555-123-4567", PHONE_555),
        ("555.123.4567", PHONE_555),
        ("555 123 4567", PHONE_555),
        ("5551234567", PHONE_555),
        ("1-800-555-1234", "one, eight zero zero, five five five, one two three four"),
        ("+44 20 7946 0958", "plus four four, two zero, seven nine four six, zero nine five eight"),
        ("555-0100", "five five five, zero one zero zero"),
    ],
)
def test_phone_numbers_are_read_digit_by_digit_in_groups(text: str, expected: str) -> None:
    assert to_speakable(text) == expected


def test_phone_number_inside_a_sentence_keeps_the_surrounding_text() -> None:
    assert to_speakable("Call us at (555) 123-4567 today.") == f"Call us at {PHONE_555} today."
    assert to_speakable("Our number is 555-123-4567.") == f"Our number is {PHONE_555}."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("john.smith@example.com", "john dot smith at example dot com"),
        ("sales@acme.io", "sales at acme dot io"),
        ("j_doe-99@mail.example.co.uk", "j underscore doe dash nine nine at mail dot example dot co dot uk"),
        ("first+tag@example.org", "first plus tag at example dot org"),
        ("Write to john.smith@example.com.", "Write to john dot smith at example dot com."),
        ("Email Jane2@Example.com, please", "Email Jane two at Example dot com, please"),
    ],
)
def test_email_addresses_are_spelled_out(text: str, expected: str) -> None:
    assert to_speakable(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3:30 PM", "three thirty PM"),
        ("3:30pm", "three thirty PM"),
        ("3:30 p.m. works", "three thirty PM works"),
        ("10:00 AM", "ten AM"),
        ("10:00am", "ten AM"),
        ("14:05", "two oh five PM"),
        ("13:00", "one PM"),
        ("9:00", "nine o'clock"),
        ("9:15", "nine fifteen"),
        ("09:30", "nine thirty AM"),
        ("00:00", "twelve midnight"),
        ("12:00 AM", "twelve midnight"),
        ("12:30 PM", "twelve thirty PM"),
        ("3pm", "three PM"),
        ("11 AM", "eleven AM"),
        ("10 a.m. to 5 p.m. daily", "ten AM to five PM daily"),
    ],
)
def test_times(text: str, expected: str) -> None:
    assert to_speakable(text) == expected


def test_noon_is_twelve_noon_or_twelve_pm() -> None:
    assert to_speakable("12:00 PM") in {"twelve noon", "twelve PM"}
    assert to_speakable("12pm") in {"twelve noon", "twelve PM"}


def test_time_at_the_end_of_a_sentence_keeps_the_full_stop() -> None:
    assert to_speakable("See you at 3 p.m.") == "See you at three PM."
    assert to_speakable("See you at 4:45 PM.") == "See you at four forty-five PM."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,200", "one thousand two hundred dollars"),
        ("$1200", "one thousand two hundred dollars"),
        ("$49.99", "forty-nine dollars and ninety-nine cents"),
        ("$1", "one dollar"),
        ("$1.01", "one dollar and one cent"),
        ("$0.99", "ninety-nine cents"),
        ("$5.00", "five dollars"),
        ("$2.5", "two dollars and fifty cents"),
        ("€20", "twenty euros"),
        ("20€", "twenty euros"),
        ("£5.50", "five pounds and fifty pence"),
        ("$1.5 million", "one point five million dollars"),
        ("$5k", "five thousand dollars"),
        ("It costs $49.99 per month.", "It costs forty-nine dollars and ninety-nine cents per month."),
    ],
)
def test_money(text: str, expected: str) -> None:
    assert to_speakable(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1st", "first"),
        ("2nd", "second"),
        ("3rd place", "third place"),
        ("22nd", "twenty-second"),
        ("the 11th of May", "the eleventh of May"),
        ("20%", "twenty percent"),
        ("20 %", "twenty percent"),
        ("2.5%", "two point five percent"),
        ("save 10-20%", "save ten to twenty percent"),
    ],
)
def test_ordinals_and_percentages(text: str, expected: str) -> None:
    assert to_speakable(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 programs", "three programs"),
        ("We have 42 seats", "We have forty-two seats"),
        ("0", "zero"),
        ("2026", "twenty twenty-six"),
        ("In 1999 we started", "In nineteen ninety-nine we started"),
        ("1,000 users", "one thousand users"),
        ("3.14", "three point one four"),
        ("3-5 days", "three to five days"),
        ("zip 94107", "zip nine four one zero seven"),
        ("code 123456", "code one two three four five six"),
        ("94107-1234", "nine four one zero seven, one two three four"),
        ("agent 007", "agent zero zero seven"),
    ],
)
def test_plain_numbers_and_codes(text: str, expected: str) -> None:
    assert to_speakable(text) == expected


def test_years_outside_1900_to_2099_are_cardinals() -> None:
    assert to_speakable("1850") == "one thousand eight hundred and fifty"
    assert to_speakable("2100") == "two thousand one hundred"


def test_numbers_glued_to_letters_are_left_alone() -> None:
    assert to_speakable("an mp3 file") == "an mp3 file"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello, how can I help you today?",
        "Mr. Smith will call you back, e.g. tomorrow morning.",
        "Our website is example.com!",
        "  spaced   out\ttext  ",
        "Great — let's book it.",
    ],
)
def test_plain_text_is_untouched(text: str) -> None:
    assert to_speakable(text) == text


MIXED = [
    "Call me at +1 (555) 123-4567 or email sales@acme.io by 5:45 p.m. on the 3rd.",
    "The plan is $49.99 a month, 20% off for 2026, and 3 programs included.",
    "Your code is 482913, see you at 14:05 or 9:00.",
    "Between 9am-5pm on the 22nd, €20 or $1,200 — 1st come, 1st served.",
    "2024-05-01 and v1.2.3 and 16:9 and 24/7 and 1,2,3.",
    "See you at 3 p.m.",
]


@pytest.mark.parametrize("text", MIXED)
def test_is_idempotent(text: str) -> None:
    once = to_speakable(text)
    assert once != text
    assert to_speakable(once) == once


@pytest.mark.parametrize("text", MIXED[:4])
def test_leaves_no_digits_or_symbols_to_read(text: str) -> None:
    assert not re.search(r"[\d@$€%]", to_speakable(text))


def test_full_reply() -> None:
    text = "Call me at +1 (555) 123-4567 or email sales@acme.io by 5:45 p.m. on the 3rd."
    assert to_speakable(text) == (
        f"Call me at plus one, {PHONE_555} or email sales at acme dot io by five forty-five PM on the third."
    )


# --- split_sentences --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. How are you? Great!", ["Hello there.", "How are you?", "Great!"]),
        ("  One.   Two.  ", ["One.", "Two."]),
        ("No punctuation at the end", ["No punctuation at the end"]),
        ("", []),
        ("   ", []),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("Wait... Okay.", ["Wait...", "Okay."]),
        ("Line one.\nLine two.", ["Line one.", "Line two."]),
        ('He said "Hi." Then he left.', ['He said "Hi."', "Then he left."]),
        ("Email john.smith@example.com. Then call.", ["Email john.smith@example.com.", "Then call."]),
        ("It costs 3.50 dollars. Okay?", ["It costs 3.50 dollars.", "Okay?"]),
        ("Meet at 3:30. Bring ID.", ["Meet at 3:30.", "Bring ID."]),
        ("Mr. Smith and Dr. Jones are here. Welcome.", ["Mr. Smith and Dr. Jones are here.", "Welcome."]),
        ("Mrs. Brown called. Ms. Green too.", ["Mrs. Brown called.", "Ms. Green too."]),
        ("Bring fruit, e.g. apples. Thanks.", ["Bring fruit, e.g. apples.", "Thanks."]),
        ("That is, i.e. never. Fine.", ["That is, i.e. never.", "Fine."]),
        ("Open at 9 a.m. and close at 5 p.m. See you.", ["Open at 9 a.m. and close at 5 p.m.", "See you."]),
        ("J. R. Smith called. Bye.", ["J. R. Smith called.", "Bye."]),
        ("No. I can't.", ["No.", "I can't."]),
        ("See No. 5 please.", ["See No. 5 please."]),
        ("Call at five PM. Tomorrow works.", ["Call at five PM.", "Tomorrow works."]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_long_sentence_is_split_at_clause_breaks() -> None:
    clauses = [f"this is clause number {i} of a rather long sentence" for i in range(10)]
    sentence = ", ".join(clauses[:5]) + "; " + ", ".join(clauses[5:]) + "."
    assert len(sentence) > 200

    pieces = split_sentences(sentence + " Short one.")

    assert pieces[-1] == "Short one."
    body = pieces[:-1]
    assert len(body) >= 2
    assert all(len(piece) <= 200 for piece in body)
    # Nothing lost or reordered: the pieces join back to the sentence.
    assert " ".join(body) == sentence
    # Breaks fall after a comma or semicolon.
    assert all(piece.endswith((",", ";")) for piece in body[:-1])


def test_short_sentence_with_commas_is_not_split() -> None:
    sentence = "Sure, we can do Monday, Tuesday, or Wednesday; pick one."
    assert split_sentences(sentence) == [sentence]


def test_split_then_speak_round_trip() -> None:
    text = "Dr. Lee is free at 3:30 p.m. on the 2nd. Call 555-123-4567. Email lee@clinic.org."
    spoken = [to_speakable(sentence) for sentence in split_sentences(text)]
    assert spoken == [
        "Dr. Lee is free at three thirty PM on the second.",
        f"Call {PHONE_555}.",
        "Email lee at clinic dot org.",
    ]
