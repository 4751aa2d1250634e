"""normalize_phone / same_phone: the formats people and carriers write numbers in, to E.164."""

from __future__ import annotations

import pytest

from callbot.integrations.phone import normalize_phone, same_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # US, every common way of writing it (555-01xx is fictional: possible, not "valid")
        ("+1 (555) 010-0123", "+15550100123"),
        ("555 010 0123", "+15550100123"),
        ("(555) 010-0123", "+15550100123"),
        ("555.010.0123", "+15550100123"),
        ("5550100123", "+15550100123"),
        ("1 555 010 0123", "+15550100123"),
        ("1-555-010-0123", "+15550100123"),
        ("+15550100123", "+15550100123"),
        ("  +1 555 010 0123  ", "+15550100123"),
        ("+1\u00a0212\u00a0555\u00a00123", "+12125550123"),
        ("212-555-0123", "+12125550123"),
        ("tel:+1-212-555-0123", "+12125550123"),
        # extensions are dropped (E.164 has none)
        ("+1 555 010 0123 ext. 12", "+15550100123"),
        ("555-010-0123 x12", "+15550100123"),
        ("+1-212-555-0123;ext=5", "+12125550123"),
        # international, with "+", with "00" (even from the US, which dials 011), with "011"
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+44 (0)20 7946 0958", "+442079460958"),  # the UK habit of showing the trunk 0
        ("00 44 (0)20 7946 0958", "+442079460958"),
        ("011 44 20 7946 0958", "+442079460958"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+49 30 123456", "+4930123456"),
        ("+800 1234 5678", "+80012345678"),  # non-geographic (freephone) code
        ("+15005550006", "+15005550006"),  # Twilio's magic test number
    ],
)
def test_normalizes_to_e164(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12",
        "5550100",  # a local number without area code: not dialable from elsewhere
        "+1 555 010 01234",  # too long
        "+1 555 010 012",  # too short
        "+1 055 010 0123",  # NANP area codes never start with 0 or 1
        "+999 123456789",  # no such country code
        "00",
        "+",
        "1-800-FLOWERS",  # letters are not mapped to keypad digits
        "call me on 555 010 0123 please",
        "five five five zero one zero",  # spoken digits are the NLU's job
        "not a number",
        "9" * 80,
    ],
)
def test_rejects_unusable_numbers(raw: str) -> None:
    assert normalize_phone(raw) is None


def test_non_strings_are_rejected() -> None:
    assert normalize_phone(None) is None  # type: ignore[arg-type]
    assert normalize_phone(5550100123) is None  # type: ignore[arg-type]


def test_default_region_reads_national_numbers() -> None:
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("06 12 34 56 78", "FR") == "+33612345678"
    # The same national digits mean nothing as a US number.
    assert normalize_phone("020 7946 0958") is None
    # Without a region, only numbers with a country code are accepted.
    assert normalize_phone("555 010 0123", None) is None
    assert normalize_phone("+1 555 010 0123", None) == "+15550100123"


def test_same_phone() -> None:
    assert same_phone("+1 (555) 010-0123", "555.010.0123")
    assert same_phone("0044 20 7946 0958", "+442079460958")
    assert not same_phone("+1 555 010 0123", "+1 555 010 0124")
    assert not same_phone("+1 555 010 0123", None)
    assert not same_phone("garbage", "garbage")  # two unusable inputs are not "the same phone"
