"""Phone numbers to E.164, the one key a lead is stored under.

``phonenumbers`` does the parsing. Two choices of ours on top of it:

- A number is accepted when it is *valid* (in a range the metadata knows is assigned) or when
  it has a possible length and the shape of its country's numbers without being in a known
  range. NANP 555-01xx numbers (fictional, used by demos and tests) and ranges assigned after
  the metadata was built fall in that second group; a real caller's number must never be
  refused, or their lead would be lost. Wrong lengths, unknown country codes and numbers that
  cannot exist in their country (a US area code starting with 0 or 1) are refused.
- Letters are refused rather than mapped to keypad digits: "call me on 555 010 0123 please"
  must not become a 16-digit number. Spoken digits ("five five five…") are the NLU's job.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber, ValidationResult

# Longer inputs are not phone numbers; phonenumbers itself stops at 250 characters.
_MAX_INPUT_CHARS = 64
_EXTENSION = re.compile(r"\s*(?:[,;]\s*)?(?:ext\.?|extension|x|#)\s*[=:]?\s*\d{1,7}\s*$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s().\-/\u00a0]")


def _parse(text: str, default_region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, default_region)
    except NumberParseException:
        return None


def _has_country_shape(number: PhoneNumber) -> bool:
    """True when the number's digits match the general pattern of its country's numbers."""
    region = phonenumbers.region_code_for_country_code(number.country_code)
    if region == phonenumbers.UNKNOWN_REGION:
        return False
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(number.country_code, region)
    if metadata is None or metadata.general_desc is None or not metadata.general_desc.national_number_pattern:
        return False
    national = phonenumbers.national_significant_number(number)
    return re.fullmatch(metadata.general_desc.national_number_pattern, national) is not None


def _acceptable(number: PhoneNumber | None) -> bool:
    if number is None:
        return False
    if phonenumbers.is_valid_number(number):
        return True
    possible = phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE
    return possible and _has_country_shape(number)


def normalize_phone(raw: str, default_region: str | None = "US") -> str | None:
    """``raw`` in E.164 (``+15550100123``), or None when it is not a usable phone number.

    Numbers without a country code are read as numbers of ``default_region`` (ISO 3166 code;
    None: a country code is required). "00" is taken as the international prefix even where the
    region dials abroad otherwise (the US uses 011), so "0044 20 7946 0958" is a UK number.
    Extensions ("x12", "ext. 12") are dropped: E.164 has none.
    """
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > _MAX_INPUT_CHARS:
        return None
    if text[:4].lower() == "tel:":
        text = text[4:]
    text = _EXTENSION.sub("", text)
    if any(char.isalpha() for char in text):
        return None
    number = _parse(text, default_region)
    if not _acceptable(number):
        compact = _SEPARATORS.sub("", text)
        if not (compact.startswith("00") and len(compact) > 2):
            return None
        number = _parse("+" + compact[2:], None)
        if not _acceptable(number):
            return None
    assert number is not None  # for type checkers: _acceptable(None) is False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def same_phone(a: str | None, b: str | None, default_region: str | None = "US") -> bool:
    """True when both are usable phone numbers and name the same line."""
    if a is None or b is None:
        return False
    first = normalize_phone(a, default_region)
    return first is not None and first == normalize_phone(b, default_region)
