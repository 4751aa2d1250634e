"""Numbers said as digits or words: "twenty five" → 25, "the twenty first" → "the 21st", 1 → "1st".

The number-word tables and parser here are shared by the phone, spelling, e-mail, choice and date extractors.
"""

from __future__ import annotations

import re

from callbot.agents.nlu.text import _clean

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}  # fmt: skip
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
ORDINAL_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
}  # fmt: skip
ORDINAL_TENS = {"twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50}
_ONE_AS_PRONOUN = {
    "that", "this", "the", "which", "any", "every", "each", "other", "no", "some", "last", "next", "first", "second",
    "third", "earlier", "later", "latter", "former", "am", "pm", "a", "m",
}  # fmt: skip
_DIGIT_WORDS = {**{w: str(v) for w, v in UNITS.items()}}


def ordinal_suffix(n: int) -> str:
    """``1 → "1st"``, ``12 → "12th"``, ``23 → "23rd"``."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _parse_number_words(tokens: list[str], i: int) -> tuple[int, int, bool] | None:
    """Parse a cardinal or ordinal number spelled in words starting at ``tokens[i]``.

    Returns ``(value, tokens consumed, is_ordinal)``. "three thirty" is two numbers (3, 30),
    as a phone number or a clock time needs; "twenty five" is one; "a hundred" is 100.
    """
    total = current = 0
    last: str | None = None
    j = i
    while j < len(tokens):
        tok = tokens[j]
        nxt = tokens[j + 1] if j + 1 < len(tokens) else ""
        if tok == "a" and last is None and nxt in ("hundred", "thousand"):
            current, last = 1, "unit"
        elif tok in UNITS and (last is None or (last == "tens" and UNITS[tok] > 0) or last == "scale"):
            if tok == "zero" and last is not None:
                break
            current += UNITS[tok]
            last = "unit"
        elif tok in TEENS and last in (None, "scale"):
            current += TEENS[tok]
            last = "teen"
        elif tok in TENS and last in (None, "scale"):
            current += TENS[tok]
            last = "tens"
        elif tok == "hundred" and last in ("unit", "teen"):
            current *= 100
            last = "scale"
        elif tok in ("thousand", "million") and last is not None and last != "scale_big":
            total += max(current, 1) * SCALES[tok]
            current = 0
            last = "scale"
        elif tok == "and" and last == "scale" and (nxt in UNITS or nxt in TEENS or nxt in TENS):
            pass
        elif tok in ORDINAL_UNITS and (last is None or (last == "tens" and ORDINAL_UNITS[tok] < 10) or last == "scale"):
            return total + current + ORDINAL_UNITS[tok], j - i + 1, True
        elif tok in ORDINAL_TENS and last in (None, "scale"):
            return total + current + ORDINAL_TENS[tok], j - i + 1, True
        else:
            break
        j += 1
    if last is None:
        return None
    # A trailing "and" was not part of the number.
    while j > i and tokens[j - 1] == "and":
        j -= 1
    return total + current, j - i, False


def spoken_numbers_to_digits(text: str) -> str:
    """Rewrite number words as digits: "in two days" → "in 2 days", "the twenty first" → "the 21st".

    The text is lower-cased and split on whitespace. "one" after "that/the/which…" stays a word
    ("the first one"), and "first thing" stays as it is.
    """
    tokens = text.lower().split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        prev = out[-1] if out else ""
        ordinal_before = prev.endswith(("st", "nd", "rd", "th")) and prev[:1].isdigit()
        if tok == "one" and (prev in _ONE_AS_PRONOUN or ordinal_before):
            out.append(tok)
            i += 1
            continue
        if tok == "first" and i + 1 < len(tokens) and tokens[i + 1] in ("thing", "of"):
            out.append(tok)
            i += 1
            continue
        if tok == "second" and prev in ("a", "one", "just"):
            out.append(tok)
            i += 1
            continue
        parsed = _parse_number_words(tokens, i)
        if parsed is None:
            out.append(tok)
            i += 1
            continue
        value, used, ordinal = parsed
        out.append(ordinal_suffix(value) if ordinal else str(value))
        i += used
    return " ".join(out)


_NUMBER_RE = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])-?\d+(?:\.\d+)?")


def extract_number(text: str) -> float | None:
    """The first number said, as digits or words: "twenty five" → 25, "a hundred" → 100, "two and a half" → 2.5."""
    t = _clean(re.sub(r"(?<=\d),(?=\d{3}\b)", "", text))
    t = re.sub(r"\ba (dozen)\b", "12", t)
    t = re.sub(r"\ba couple( of)?\b", "2", t)
    tokens = t.split()
    for i, tok in enumerate(tokens):
        m = _NUMBER_RE.fullmatch(tok.rstrip("%").lstrip("$"))
        value: float | None = None
        used = 1
        if m:
            value = float(m.group(0).replace(",", ""))
        else:
            parsed = _parse_number_words(tokens, i)
            if parsed is not None and not parsed[2]:
                value, used = float(parsed[0]), parsed[1]
        if value is None:
            continue
        rest = tokens[i + used :]
        if rest[:2] == ["point", rest[1] if len(rest) > 1 else ""] and len(rest) > 1:
            decimals = ""
            for word in rest[1:]:
                if word in UNITS:
                    decimals += str(UNITS[word])
                elif word.isdigit():
                    decimals += word
                else:
                    break
            if decimals:
                value = float(f"{int(value)}.{decimals}")
        elif rest[:3] == ["and", "a", "half"]:
            value += 0.5
        elif rest[:3] == ["and", "a", "quarter"]:
            value += 0.25
        return value
    if re.search(r"\b(a|one) half\b", t):
        return 0.5
    return None
