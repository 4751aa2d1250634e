"""Phone numbers said as digits or words ("two one two five five five oh one …") → E.164."""

from __future__ import annotations

import re

import phonenumbers

from callbot.agents.nlu.numbers import TEENS, TENS, UNITS, _parse_number_words

_PHONE_DIGIT_WORDS = {**{w: str(v) for w, v in UNITS.items()}, "oh": "0", "o": "0", "nought": "0"}


def extract_phone(text: str, region: str = "US") -> str | None:
    """A phone number in E.164 ("+12125550123") from digits or words ("two one two five five five oh one …").

    "oh" counts as zero inside a number, "double five" as 55, "forty five" as 45, "eight hundred" as 800.
    The number must be possible for ``region`` (length and prefix); it need not be assigned.
    """
    t = text.lower().replace("’", "'")
    t = re.sub(r"[,;!?\"…]", " ", t)
    t = re.sub(r"(?<=\d)[\s.\-]+(?=\d)", "", t)  # "555 123-4567" → one token
    tokens = re.sub(r"\s+", " ", t).replace("(", " ").replace(")", " ").split()
    runs: list[str] = []
    current = ""
    i = 0
    while i < len(tokens):
        tok = tokens[i].strip(".:")
        piece: str | None = None
        used = 1
        if re.fullmatch(r"\+?\d[\d\-.]*", tok):
            piece = ("+" if tok.startswith("+") and not current else "") + re.sub(r"\D", "", tok)
        elif tok == "plus" and not current:
            piece = "+"
        elif tok in ("double", "triple") and i + 1 < len(tokens):
            nxt = tokens[i + 1].strip(".")
            digit = _PHONE_DIGIT_WORDS.get(nxt, nxt if re.fullmatch(r"\d", nxt) else None)
            if digit is not None:
                piece, used = digit * (2 if tok == "double" else 3), 2
        elif tok in ("oh", "o") and not current:
            piece = None  # "oh, my number is …": an interjection, not a leading zero
        elif tok in _PHONE_DIGIT_WORDS:
            piece = _PHONE_DIGIT_WORDS[tok]
        elif tok in TEENS or tok in TENS:
            parsed = _parse_number_words(tokens, i)
            if parsed is not None and not parsed[2]:
                value, used, _ = parsed
                piece = str(value)
        elif tok in ("hundred", "thousand") and current:
            piece = "00" if tok == "hundred" else "000"
        elif tok in ("-", "dash", "and") and current:
            piece = ""
        if piece is None:
            if current:
                runs.append(current)
            current = ""
        else:
            current += piece
        i += used
    if current:
        runs.append(current)
    candidates = sorted(runs, key=lambda r: len(r.lstrip("+")), reverse=True)
    for run in candidates:
        if len(run.lstrip("+")) < 7:
            return None
        for attempt in (run, "+" + run) if not run.startswith("+") else (run,):
            try:
                number = phonenumbers.parse(attempt, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_possible_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None
