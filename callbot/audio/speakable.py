"""Turn reply text into text a TTS engine reads correctly, and split it into sentences.

Piper and espeak-ng read "555 123 4567" as three cardinal numbers and "$49.99" as
"dollar forty-nine point nine nine", so numbers, phone numbers, e-mail addresses, times
and money are spelled out here before synthesis.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

__all__ = ["split_sentences", "to_speakable"]

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# (singular, plural, singular subunit, plural subunit)
_CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
}
_SCALES = {
    "k": "thousand",
    "thousand": "thousand",
    "m": "million",
    "million": "million",
    "bn": "billion",
    "billion": "billion",
    "trillion": "trillion",
}


# --- number helpers -------------------------------------------------------------------


def _digits(text: str) -> str:
    """Speak every digit on its own: "0958" -> "zero nine five eight"."""
    return " ".join(_DIGIT_WORDS[int(ch)] for ch in text if ch.isdigit())


def _cardinal(value: int) -> str:
    # num2words puts commas after thousands ("one thousand, two hundred"): TTS would pause there.
    try:
        return num2words(value).replace(",", "")
    except (OverflowError, NotImplementedError):
        return _digits(str(value))


def _integer_words(text: str) -> str:
    """Words for a bare run of digits: codes keep their digits, years get year style."""
    if len(text) > 1 and text.startswith("0"):
        return _digits(text)  # "007" is a code, not seven
    if len(text) >= 5:
        return _digits(text)  # zip codes, order numbers, PINs
    value = int(text)
    if len(text) == 4 and 1900 <= value <= 2099:
        return num2words(value, to="year")
    return _cardinal(value)


def _decimal_words(integer: str, fraction: str | None) -> str:
    words = _cardinal(int(integer))
    if fraction:
        words += " point " + _digits(fraction)
    return words


# --- e-mail addresses -----------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_EMAIL_TOKEN = re.compile(r"[^\W\d_]+|\d|.", re.DOTALL)
_EMAIL_SYMBOLS = {".": "dot", "@": "at", "_": "underscore", "-": "dash", "+": "plus"}


def _email(match: re.Match[str]) -> str:
    words: list[str] = []
    for token in _EMAIL_TOKEN.findall(match.group(0)):
        if token.isdigit():
            words.append(_DIGIT_WORDS[int(token)])
        elif token in _EMAIL_SYMBOLS:
            words.append(_EMAIL_SYMBOLS[token])
        elif token.strip():
            words.append(token)
    return " ".join(words)


# --- phone numbers --------------------------------------------------------------------

# "+44 20 7946 0958", "+1 (555) 123-4567", "+15551234567"
_PHONE_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,5}\)|\d{1,12})){1,6}(?!\d)")
# "(555) 123-4567", "555-123-4567", "555 123 4567", "1-800-555-1234", "5551234567"
_PHONE_NANP = re.compile(
    r"(?<![\w+.,])(?:1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}(?![\w]|[.,]\d)"
)
# "555-1234": US exchanges never start with 0 or 1, which keeps ranges like "100-2000" out.
_PHONE_LOCAL = re.compile(r"(?<![\w+.,-])[2-9]\d{2}[.-]\d{4}(?![\w-]|[.,]\d)")


def _chunk_digits(run: str) -> list[str]:
    """Group an unseparated digit run the way people say it: 1-555-123-4567, 555-123-4567."""
    if len(run) <= 4:
        return [run]
    if len(run) == 11 and run.startswith("1"):
        return [run[0], run[1:4], run[4:7], run[7:]]
    if len(run) == 10:
        return [run[:3], run[3:6], run[6:]]
    if len(run) == 7:
        return [run[:3], run[3:]]
    groups: list[str] = []
    while len(run) > 4:
        groups.append(run[:3])
        run = run[3:]
    groups.append(run)
    return groups


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    runs = re.findall(r"\d+", text)
    total = sum(len(run) for run in runs)
    if not 7 <= total <= 15:
        return text
    groups = [group for run in runs for group in _chunk_digits(run)]
    spoken = ", ".join(_digits(group) for group in groups)
    return f"plus {spoken}" if text.startswith("+") else spoken


# --- money ----------------------------------------------------------------------------

_AMOUNT = r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"
_SCALE = r"(?:\s?(thousand|million|billion|trillion|bn|k|m)\b)?"
_MONEY_PREFIX = re.compile(
    rf"(?<![\w$€£])([$€£])\s?{_AMOUNT}{_SCALE}(?![\w]|[.,]\d)",
    re.IGNORECASE,
)
_MONEY_SUFFIX = re.compile(rf"(?<![\w.,]){_AMOUNT}{_SCALE}\s?(€)", re.IGNORECASE)


def _money_words(symbol: str, integer: str, fraction: str | None, scale: str | None) -> str:
    unit, units, subunit, subunits = _CURRENCIES[symbol]
    integer = integer.replace(",", "")
    if scale:
        return f"{_decimal_words(integer, fraction)} {_SCALES[scale.lower()]} {units}"
    if fraction is not None and len(fraction) > 2:
        return f"{_decimal_words(integer, fraction)} {units}"
    whole = int(integer)
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    main = f"{_cardinal(whole)} {unit if whole == 1 else units}"
    if not cents:
        return main
    minor = f"{_cardinal(cents)} {subunit if cents == 1 else subunits}"
    return minor if whole == 0 else f"{main} and {minor}"


def _money_prefix(match: re.Match[str]) -> str:
    symbol, integer, fraction, scale = match.groups()
    return _money_words(symbol, integer, fraction, scale)


def _money_suffix(match: re.Match[str]) -> str:
    integer, fraction, scale, symbol = match.groups()
    return _money_words(symbol, integer, fraction, scale)


# --- times ----------------------------------------------------------------------------

# The dot of "p.m." is eaten only mid-sentence; at the end it stays as the full stop.
_MERIDIEM = r"([AaPp])\.?\s?[Mm](?![A-Za-z])(?:\.(?=\s+[a-z]|[,;:!?)]))?"
_TIME = re.compile(rf"(?<![\w:.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])(?:\s?{_MERIDIEM})?")
_HOUR_MERIDIEM = re.compile(rf"(?<![\w:.])(1[0-2]|0?[1-9])\s?{_MERIDIEM}")


def _clock_words(hour: int, minute: int, suffix: str | None, zero_padded: bool) -> str:
    if suffix is None:
        if hour == 0:
            hour, suffix = 12, "AM"
        elif hour > 12:
            hour, suffix = hour - 12, "PM"
        elif zero_padded and hour < 12:
            suffix = "AM"  # "09:30" is written 24-hour style
    elif hour > 12:
        hour, suffix = hour - 12, "PM"  # "14:05 PM": trust the hour
    elif hour == 0:
        hour = 12
    spoken_hour = _cardinal(hour)
    if minute == 0:
        if hour == 12 and suffix == "PM":
            return "twelve noon"
        if hour == 12 and suffix == "AM":
            return "twelve midnight"
        return f"{spoken_hour} {suffix}" if suffix else f"{spoken_hour} o'clock"
    spoken_minute = f"oh {_cardinal(minute)}" if minute < 10 else _cardinal(minute)
    spoken = f"{spoken_hour} {spoken_minute}"
    return f"{spoken} {suffix}" if suffix else spoken


def _time(match: re.Match[str]) -> str:
    hour, minute, meridiem = match.groups()
    suffix = f"{meridiem.upper()}M" if meridiem else None
    return _clock_words(int(hour), int(minute), suffix, len(hour) == 2 and hour.startswith("0"))


def _hour_meridiem(match: re.Match[str]) -> str:
    hour, meridiem = match.groups()
    return _clock_words(int(hour), 0, f"{meridiem.upper()}M", False)


# --- percentages, ordinals, ranges, plain numbers ------------------------------------

_NUMBER = r"(\d+)(?:\.(\d+))?"
_PERCENT = re.compile(rf"(?<![\w.,]){_NUMBER}(?:\s?[-–]\s?{_NUMBER})?\s?%")
_ORDINAL = re.compile(r"(?<![\w.,])(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_RANGE = re.compile(r"(?<![\w.,:/–-])(\d{1,4})\s?[-–]\s?(\d{1,4})(?![\w:/–-]|[.,]\d)")
_GROUPED = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+)(?:\.(\d+))?(?![\w]|[.,]\d)")
_LONG_DIGITS = re.compile(r"(?<![\w.,])(\d{5,})(?:-(\d{4}))?(?![\w-]|[.,]\d)")
_PLAIN = re.compile(r"(?<![\w.,])(\d+)(?:\.(\d+))?(?![\w]|[.,]\d)")


def _percent(match: re.Match[str]) -> str:
    low_int, low_frac, high_int, high_frac = match.groups()
    spoken = _decimal_words(low_int, low_frac)
    if high_int is not None:
        spoken += " to " + _decimal_words(high_int, high_frac)
    return f"{spoken} percent"


def _ordinal(match: re.Match[str]) -> str:
    try:
        return num2words(int(match.group(1)), to="ordinal").replace(",", "")
    except (OverflowError, NotImplementedError):
        return match.group(0)


def _range(match: re.Match[str]) -> str:
    return f"{_integer_words(match.group(1))} to {_integer_words(match.group(2))}"


def _grouped(match: re.Match[str]) -> str:
    return _decimal_words(match.group(1).replace(",", ""), match.group(2))


def _long_digits(match: re.Match[str]) -> str:
    main, extension = match.groups()
    return _digits(main) + (f", {_digits(extension)}" if extension else "")


def _plain(match: re.Match[str]) -> str:
    integer, fraction = match.groups()
    if fraction is None:
        return _integer_words(integer)
    return _decimal_words(integer, fraction)


# Order matters: the specific shapes go first, then whatever digits are left become words.
_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_EMAIL, _email),
    (_PHONE_INTERNATIONAL, _phone),
    (_PHONE_NANP, _phone),
    (_PHONE_LOCAL, _phone),
    (_MONEY_PREFIX, _money_prefix),
    (_MONEY_SUFFIX, _money_suffix),
    (_TIME, _time),
    (_HOUR_MERIDIEM, _hour_meridiem),
    (_PERCENT, _percent),
    (_ORDINAL, _ordinal),
    (_RANGE, _range),
    (_GROUPED, _grouped),
    (_LONG_DIGITS, _long_digits),
    (_PLAIN, _plain),
)
_NEEDS_WORK = re.compile(r"[\d@]")


def to_speakable(text: str) -> str:
    """Rewrite numbers, phone numbers, e-mail addresses, times and money as words.

    Text without digits or "@" is returned unchanged; the output of this function
    maps to itself.
    """
    if not _NEEDS_WORK.search(text):
        return text  # the common case on the hot path: plain words
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return text


# --- sentence splitting ---------------------------------------------------------------

_MAX_SENTENCE_CHARS = 100  # about 6 s of speech: synthesized in ~0.5 s, so the first audio comes soon
# A run of . ! ? (plus closing quotes/brackets) that whitespace follows.
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
# Never the end of a sentence: a name or a number always follows.
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "e.g", "i.e", "approx", "no", "nos", "fig"}
)
# End a sentence only when a capitalised word follows ("at 3 p.m. See you").
_SOMETIMES_ABBREVIATIONS = frozenset({"a.m", "p.m", "etc", "inc", "ltd", "co", "corp"})
_CLAUSE_BREAK = re.compile(r"(?<=[,;])\s+")


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    punctuation = match.group(0).rstrip("\"'”’)]")
    following = text[match.end() :].lstrip()
    if not following:
        return True
    if punctuation != ".":
        return True  # "!", "?" and "..." always end a sentence
    word_start = max(text.rfind(" ", 0, match.start()), text.rfind("\n", 0, match.start())) + 1
    word = text[word_start : match.start()].lstrip("\"'“‘([").lower()
    next_char = following[0]
    if word in _ABBREVIATIONS:
        # "No." is also a whole answer: only a number after it makes it "number".
        return word == "no" and not next_char.isdigit()
    if word in _SOMETIMES_ABBREVIATIONS:
        return next_char.isupper()
    if len(word) == 1 and word.isalpha() and text[word_start : match.start()].isupper():
        return False  # an initial: "J. Smith"
    # A lower-case word after a full stop means an abbreviation we do not know ("approx. ten").
    return not next_char.islower()


def _split_long(sentence: str) -> list[str]:
    """Split a long sentence at ", " / "; " so the first audio is ready sooner."""
    if len(sentence) <= _MAX_SENTENCE_CHARS:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for clause in _CLAUSE_BREAK.split(sentence):
        candidate = f"{current} {clause}" if current else clause
        if current and len(candidate) > _MAX_SENTENCE_CHARS:
            pieces.append(current)
            current = clause
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def split_sentences(text: str) -> list[str]:
    """Split text at . ! ? followed by whitespace, keeping the punctuation.

    E-mail addresses, decimals and times never split (no whitespace follows their dots);
    abbreviations such as "Mr.", "e.g." and "p.m." do not end a sentence. Sentences over
    100 characters are split again at clause breaks.
    """
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if _is_boundary(text, match):
            sentences.append(text[start : match.end()])
            start = match.end()
    sentences.append(text[start:])
    return [piece for sentence in sentences if (s := sentence.strip()) for piece in _split_long(s)]
