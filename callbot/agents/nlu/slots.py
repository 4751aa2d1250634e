"""Slot values from what a caller said: e-mail, spelled words, name, phone, yes/no, choices, numbers.

The input is a Whisper transcript: case and punctuation vary, numbers come as digits or words,
and dictated e-mail addresses arrive mangled ("maria dot lopez at example dot com" becomes
"maria.lopeasetexample.com"). Every extractor is a pure function that returns ``None`` (or "")
when it is not sure there is a value, never a guess dressed up as a fact; the e-mail extractor
returns a confidence so the dialogue can read the address back or ask for it to be spelled.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

# --------------------------------------------------------------------------- numbers

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


# --------------------------------------------------------------------------- text helpers

_CONTRACTIONS = {
    "i'm": "i am", "it's": "it is", "that's": "that is", "what's": "what is", "name's": "name is",
    "don't": "do not", "doesn't": "does not", "didn't": "did not", "can't": "cannot", "won't": "will not",
    "isn't": "is not", "i'd": "i would", "i'll": "i will", "you're": "you are", "let's": "let us",
    "wouldn't": "would not", "couldn't": "could not", "there's": "there is", "we're": "we are",
    "i've": "i have", "we've": "we have", "you've": "you have", "they're": "they are", "we'll": "we will",
    "you'll": "you will", "he's": "he is", "she's": "she is", "haven't": "have not", "aren't": "are not",
    "shouldn't": "should not", "where's": "where is", "how's": "how is", "who's": "who is", "when's": "when is",
}  # fmt: skip


def _clean(text: str) -> str:
    """Lower case, straight apostrophes, no sentence punctuation, single spaces (keeps ' . @ : - inside words)."""
    t = text.lower().replace("’", "'").replace("‘", "'").replace("`", "'")
    t = re.sub(r"[,;!?\"()\[\]{}…]", " ", t)
    t = re.sub(r"(?<=\w)\.(?=\s|$)", " ", t)  # a full stop ending a word; "john.smith" keeps its dot
    return re.sub(r"\s+", " ", t).strip()


def _expand_contractions(t: str) -> str:
    for short, long in _CONTRACTIONS.items():
        t = re.sub(rf"\b{re.escape(short)}(?=\s|$)", long, t)
        bare = short.replace("'", "")
        if bare not in ("its", "well", "were", "ill", "id", "lets", "cant", "wont", "hed", "shed"):
            t = re.sub(rf"\b{bare}\b", long, t)
    return t


def normalize(text: str) -> str:
    """Lower case, contractions expanded, punctuation gone: the form the rules below match on."""
    t = _expand_contractions(_clean(text))
    t = re.sub(r"[.:](?!\d)", " ", t)
    return re.sub(r"\s+", " ", t).strip()


# --------------------------------------------------------------------------- yes / no

_YES_RE = re.compile(
    r"\b(yes|yeah|yea|yep|yup|yah|ya|sure|surely|certainly|correct|right|absolutely|definitely|of course|ok|okay|"
    r"o k|alright|all right|sounds (good|great|fine|perfect)|that works|works for me|works|perfect|great|fine|good|"
    r"uh huh|uh-huh|mhm|mm hmm|mm-hmm|affirmative|please do|go ahead|exactly|indeed|true|i do(?! not)|i would(?! not)|"
    r"you got it|you bet|why not|let us do (it|that)|i guess so|i think so|yes please|please|that is it|cool)\b"
)
_NO_RE = re.compile(
    r"\b(no|nope|nah|naw|not really|negative|incorrect|wrong|not (right|correct|quite|now|interested|at all)|"
    r"do not|does not|did not|cannot|will not|would not|never|i would rather not|rather not|not that|that is not|"
    r"nothing|"
    r"not today|not yet|not right now|neither|false)\b"
)
# Phrases whose "no"/"not" words do not mean no (or whose "yes" words do not mean yes).
_NEUTRALISE = re.compile(
    r"\b(no (problem|worries|doubt)|not a problem|not bad|(i am )?not (sure|certain)|i do not know|maybe|"
    r"(?<!not )right now|all right then)\b"
)
_NO_BUT_YES = re.compile(r"\b(no (problem|worries|doubt)|not a problem|not bad)\b")


@lru_cache(maxsize=4096)
def normalized(text: str) -> str:
    """``normalize`` for fixed words (a profile's program names, aliases, keywords): worked out once each."""
    return normalize(text)


def parse_yes_no(text: str) -> bool | None:
    """True for yes ("yeah sure", "that works", "no problem"), False for no ("nope", "not really"), else None."""
    t = normalize(text)
    if not t:
        return None
    positive_idiom = bool(_NO_BUT_YES.search(t))
    t = _NEUTRALISE.sub(" ", t)
    if re.match(r"^(yeah|yes|yep) no\b", t):
        return False
    yes = _YES_RE.search(t)
    no = _NO_RE.search(t)
    if yes and no:
        return yes.start() < no.start()
    if yes or positive_idiom:
        return True
    if no:
        return False
    return None


# --------------------------------------------------------------------------- choices

_ORDINAL_WORD_VALUES = {w: v for w, v in ORDINAL_UNITS.items() if v <= 10}
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
           "dec")  # fmt: skip
_MONTH_RE = "|".join(_MONTHS)
_NOT_A_CHOICE = re.compile(
    rf"\b(first thing|at first|first of all|first time|second thoughts?|(a|one|just a) second|"
    rf"(\d+(st|nd|rd|th)|{'|'.join(ORDINAL_UNITS)}) (of )?({_MONTH_RE})\b|({_MONTH_RE}) (the )?\d+(st|nd|rd|th))"
)


def extract_ordinal(text: str) -> int | None:
    """Which offered option the caller picked: "the second one" → 2, "option three" → 3, "the last one" → -1.

    Times and dates are not choices: "the 10 am one" and "the 3rd of December" give None.
    """
    t = normalize(text)
    t = _NOT_A_CHOICE.sub(" ", t)
    if re.search(r"\b(second|2nd) (to|from) (the )?last\b", t):
        return -2
    if re.search(r"\b(last|final|latter|later one|bottom one)\b", t):
        return -1
    if re.search(r"\b(former|top one)\b", t):
        return 1
    m = re.search(r"\b(?:number|option|choice|slot|no)\s+(\d{1,2}|" + "|".join(UNITS) + r"|ten)\b", t)
    if m:
        word = m.group(1)
        value = int(word) if word.isdigit() else {**UNITS, "ten": 10}[word]
        return value if 1 <= value <= 10 else None
    m = re.search(r"\b(" + "|".join(_ORDINAL_WORD_VALUES) + r")\b", t)
    if m:
        return _ORDINAL_WORD_VALUES[m.group(1)]
    m = re.search(r"\b(\d{1,2})(st|nd|rd|th)\b", t)
    if m and 1 <= int(m.group(1)) <= 10:
        return int(m.group(1))
    return None


# --------------------------------------------------------------------------- spelling

_LETTER_NAMES = {
    "bee": "b", "be": "b", "cee": "c", "dee": "d", "gee": "g", "jay": "j", "kay": "k", "pee": "p", "tee": "t",
    "vee": "v", "zee": "z", "zed": "z", "aitch": "h", "ess": "s", "eff": "f", "ell": "l", "el": "l", "cue": "q",
    "queue": "q", "ex": "x", "double-u": "w", "doubleu": "w",
}  # fmt: skip
_AMBIGUOUS_LETTER_NAMES = {
    "a": "a", "i": "i", "oh": "o", "are": "r", "ar": "r", "you": "u", "see": "c", "sea": "c", "why": "y",
    "eye": "i", "em": "m", "en": "n", "tea": "t", "o": "o", "u": "u", "y": "y",
}  # fmt: skip
_NATO = {
    "alpha": "a", "alfa": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e", "foxtrot": "f", "golf": "g",
    "hotel": "h", "india": "i", "juliet": "j", "juliett": "j", "kilo": "k", "lima": "l", "mike": "m",
    "november": "n", "oscar": "o", "papa": "p", "quebec": "q", "romeo": "r", "sierra": "s", "tango": "t",
    "uniform": "u", "victor": "v", "whiskey": "w", "whisky": "w", "xray": "x", "x-ray": "x", "yankee": "y",
    "zulu": "z",
}  # fmt: skip
_SPELL_SYMBOLS = {"dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-"}
_DIGIT_WORDS = {**{w: str(v) for w, v in UNITS.items()}}


def _spelling_tokens(text: str) -> list[str]:
    t = text.lower().replace("’", "'")
    t = re.sub(r"\b([a-z])\s+(?:as in|like in|like|for)\s+[a-z]+\b", r"\1", t)  # "j as in juliet" → "j"
    t = re.sub(r"\bcapital\s+([a-z])\b", r"\1", t)
    t = re.sub(r"\bdouble\s+(?:you|u)\b", "w", t)
    t = re.sub(r"\bunder\s+score\b", "underscore", t)
    t = re.sub(r"[,;!?\"()…]", " ", t)
    tokens: list[str] = []
    for raw in t.split():
        tok = raw.strip(".'")
        # "J-O-H-N" or "J.O.H.N." is one token holding single letters.
        parts = [p for p in re.split(r"[-.]", tok) if p]
        if len(parts) >= 2 and all(len(p) == 1 for p in parts):
            tokens.extend(parts)
        elif tok:
            tokens.append(tok)
    return tokens


def _letter_of(tok: str) -> tuple[str, bool] | None:
    """(character, certain) for a token that names one letter or digit, else None."""
    if tok in _AMBIGUOUS_LETTER_NAMES:
        return _AMBIGUOUS_LETTER_NAMES[tok], False
    if len(tok) == 1 and tok.isalnum():
        return tok, True
    if tok in _LETTER_NAMES:
        return _LETTER_NAMES[tok], True
    if tok in _NATO:
        return _NATO[tok], True
    if tok in _DIGIT_WORDS:
        return _DIGIT_WORDS[tok], False
    return None


def _spelled_runs(text: str) -> list[tuple[int, int, str]]:
    """Runs of letters spelled one by one: (first token, end token, spelled text), over ``_spelling_tokens``."""
    tokens = _spelling_tokens(text)
    runs: list[tuple[int, int, str]] = []
    i = 0
    while i < len(tokens):
        start, chars, certain, letters = i, [], 0, 0
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("double", "triple") and i + 1 < len(tokens) and _letter_of(tokens[i + 1]):
                char, _ = _letter_of(tokens[i + 1])  # type: ignore[misc]
                chars.append(char * (2 if tok == "double" else 3))
                certain += 1
                letters += 1
                i += 2
                continue
            letter = _letter_of(tok)
            if letter is not None:
                chars.append(letter[0])
                certain += letter[1]
                letters += 1
                i += 1
                continue
            if tok in _SPELL_SYMBOLS and letters and i + 1 < len(tokens) and _letter_of(tokens[i + 1]):
                chars.append(_SPELL_SYMBOLS[tok])
                i += 1
                continue
            break
        # A run does not start with a word that is only maybe a letter ("the letters ARE b r o w n").
        while letters > 2 and len(tokens[start]) > 1 and tokens[start] in _AMBIGUOUS_LETTER_NAMES:
            start += 1
            chars.pop(0)
            letters -= 1
        if letters >= 2 and certain >= max(1, letters / 2):
            runs.append((start, i, "".join(chars)))
        if i == start:
            i += 1
    return runs


def extract_spelled(text: str) -> str:
    """Letters spelled one by one, joined: "j o h n" → "john", "J-A-N-E" → "jane", "j as in juliet" → "j".

    Letter names ("jay", "aitch"), the NATO alphabet, "double l", digits and "dot"/"dash"/"underscore"
    inside a spelling are understood. Returns "" when nothing was spelled.
    """
    single = re.fullmatch(r"\s*([a-z])\s+(?:as in|like)\s+[a-z]+\W*", text.lower())
    if single:
        return single.group(1)
    return "".join(run for _, _, run in _spelled_runs(text))


# --------------------------------------------------------------------------- names

_NAME_INTRO = re.compile(
    r"\b(?:my name is|my names|name is|the name is|this is|it is|i am|im|call me|you can call me|"
    r"you are speaking (?:to|with)|you are talking to|they call me|speaking is)\s+(.+)"
)
_NAME_STOP = {
    "and", "from", "calling", "i", "with", "but", "so", "here", "speaking", "um", "uh", "by", "the", "about", "at",
    "on", "in", "looking", "interested", "is", "my", "me", "you", "it", "that", "this", "just", "a", "an", "to",
    "for", "of", "please", "thanks", "thank", "again", "yes", "no", "yeah", "okay", "ok", "hi", "hello", "hey",
    "spelled", "spell", "like", "as", "email", "phone", "number", "who", "what", "how", "wanted",
}  # fmt: skip
_NOT_A_NAME = _NAME_STOP | {
    "not", "fine", "good", "great", "sorry", "wondering", "trying", "very", "really", "sure", "actually", "going",
    "happy", "glad", "well", "regarding", "right", "correct", "also", "still", "there", "ready", "busy", "free",
    "available", "afraid", "done", "all", "doing", "interested", "looking", "calling", "wrong", "mister", "miss",
    "misses", "mrs", "mr", "ms", "doctor", "dr", "one", "new", "back", "curious", "confused", "bad",
    "only", "maybe", "probably", "definitely", "having", "getting", "thinking", "hoping", "wanting", "asking",
    "the", "their", "your", "our", "his", "her", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "tomorrow", "today", "morning", "afternoon", "evening", "any", "anything", "nothing",
}  # fmt: skip
_TITLES = {"mister", "mr", "mrs", "misses", "miss", "ms", "doctor", "dr"}


def _title_case(word: str) -> str:
    return "-".join("'".join(p[:1].upper() + p[1:] for p in part.split("'")) for part in word.split("-"))


def _name_words(candidate: list[str]) -> list[str]:
    words: list[str] = []
    for w in candidate:
        if w in _TITLES and not words:
            continue
        if w in _NAME_STOP or not re.fullmatch(r"[a-z][a-z'\-]*", w) or len(words) == 3:
            break
        if len(w) == 1 and words:  # a trailing initial is fine, a run of letters is a spelling
            break
        words.append(w)
    if not words or words[0] in _NOT_A_NAME or len(words[0]) < 2:
        return []
    return [w for w in words if w not in _NOT_A_NAME] if len(words) > 1 else words


def extract_name(text: str) -> str | None:
    """The caller's name: "my name is jane doe" → "Jane Doe", "this is Jane" → "Jane".

    A spelling wins over what Whisper wrote: "it's Jon, J O H N" → "John". A bare answer of one
    to three name-like words ("Jane Doe.") is taken as the name (ask the question first).
    """
    spelled_runs = _spelled_runs(text)
    tokens = _spelling_tokens(text)
    # Drop the spelled letters before looking for name words.
    keep = [True] * len(tokens)
    for start, end, _ in spelled_runs:
        for k in range(start, end):
            keep[k] = False
    rest = " ".join(tok for tok, k in zip(tokens, keep, strict=True) if k)
    t = normalize(rest)
    words: list[str] = []
    m = _NAME_INTRO.search(t)
    if m:
        words = _name_words(m.group(1).split())
    if not words:
        m = re.match(r"^([a-z][a-z'\-]+(?: [a-z][a-z'\-]+)?) (?:here|speaking)\b", t)
        if m:
            words = _name_words(m.group(1).split())
    if not words and not m:
        bare = [w for w in t.split() if w not in ("um", "uh", "yeah", "yes", "sure", "oh", "well", "so", "okay")]
        if 1 <= len(bare) <= 3 and all(re.fullmatch(r"[a-z][a-z'\-]+", w) and w not in _NOT_A_NAME for w in bare):
            words = bare
    spelled = [run for _, _, run in spelled_runs if run.isalpha() and len(run) >= 2]
    for run in spelled:
        if not words:
            words = [run]
            continue
        scores = [difflib.SequenceMatcher(None, w, run).ratio() for w in words]
        best = max(range(len(words)), key=scores.__getitem__)
        if scores[best] >= 0.5:
            words[best] = run
        elif len(words) < 3:
            words.append(run)
    if not words:
        return None
    return " ".join(_title_case(w) for w in words)


# --------------------------------------------------------------------------- phone

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


# --------------------------------------------------------------------------- e-mail

# Provider names as Whisper writes them → their domain.
PROVIDER_DOMAINS = {
    "gmail": "gmail.com", "googlemail": "googlemail.com", "yahoo": "yahoo.com", "ymail": "ymail.com",
    "outlook": "outlook.com", "hotmail": "hotmail.com", "icloud": "icloud.com", "aol": "aol.com",
    "protonmail": "protonmail.com", "example": "example.com", "msn": "msn.com", "comcast": "comcast.net",
}  # fmt: skip
KNOWN_DOMAINS = frozenset(PROVIDER_DOMAINS.values()) | {
    "example.org", "example.net", "proton.me", "me.com", "mac.com", "live.com", "gmx.com", "gmx.net", "mail.com",
    "att.net", "verizon.net", "sbcglobal.net", "yahoo.co.uk", "hotmail.co.uk",
}  # fmt: skip
_TLDS = ("com", "net", "org", "io", "co", "us", "edu", "gov", "info", "biz", "me", "ai", "uk", "ca", "de", "app", "dev")
_TLD_RE = "|".join(_TLDS)
# How Whisper writes a spoken "at" when it glues it to the words around it.
_MERGED_AT = ("@", "at", "et", "ad", "as", "it", "add", "and")
_EMAIL_STOP = {
    "is", "it", "its", "email", "e-mail", "mail", "address", "my", "the", "yeah", "yes", "sure", "so", "um", "uh",
    "okay", "ok", "that", "this", "and", "oh", "well", "please", "thanks", "me", "send", "to", "use", "try",
    "of", "be", "would", "should", "could", "can", "you", "reach", "contact", "at", "was", "i", "think", "correct",
    "right", "no", "sorry", "actually", "meant", "said", "just", "like", "hi", "hello", "on", "under",
}  # fmt: skip
_LOCAL_RE = re.compile(r"[a-z0-9](?:[a-z0-9._%+\-]*[a-z0-9])?")
_DOMAIN_RE = re.compile(r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,}")


@dataclass(frozen=True)
class EmailCandidate:
    """An e-mail address recovered from speech, and how much to trust it.

    ``needs_confirmation``: read it back (and ask for the part before the @ to be spelled)
    before relying on it. ``source``: "literal" (Whisper wrote an address), "spoken" ("… at …
    dot com") or "merged" (recovered from a glued form such as "maria.lopeasetexample.com").
    """

    address: str
    confidence: float
    needs_confirmation: bool
    source: str

    @property
    def local_part(self) -> str:
        return self.address.split("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.address.split("@", 1)[1]


def _email_text(text: str) -> str:
    t = text.lower().replace("’", "").replace("'", "")
    t = re.sub(r"[,;!?\"()…<>]", " ", t)
    t = re.sub(r"\b([a-z])\s+as in\s+[a-z]+\b", r"\1", t)
    # "J-O-H-N" / "J.O.H.N" is a spelling, not a hyphenated name.
    t = re.sub(r"\b[a-z0-9](?:[\-.][a-z0-9]\b)+", lambda m: " ".join(re.split(r"[\-.]", m.group(0))), t)
    t = re.sub(r"\bat\s+(sign|symbol)\b", " @ ", t)
    t = re.sub(r"\bunder\s*score\b", " _ ", t)
    t = re.sub(r"\b(dash|hyphen)\b", " - ", t)
    t = re.sub(r"\b(dot|period|point)\b", " . ", t)
    t = re.sub(r"\bdot\s*com\b|\bdotcom\b", " . com ", t)
    t = re.sub(r"\b(?:g|gee|jee)[\s\-]*mail\b", "gmail", t)
    t = re.sub(r"\bhot\s+mail\b", "hotmail", t)
    t = re.sub(r"\b(?:i|eye)[\s\-]+cloud\b", "icloud", t)
    t = re.sub(r"\bout\s+look\b", "outlook", t)
    t = re.sub(r"\bya\s+hoo\b", "yahoo", t)
    t = re.sub(r"\ba\s+o\s+l\b", "aol", t)
    t = re.sub(r"\.\s*(?:calm|come|cum|comb|con)\b", ". com", t)
    t = re.sub(r"\bdouble\s+([a-z0-9])\b", r"\1\1", t)
    t = t.replace("@", " @ ")
    words = []
    for tok in t.split():
        if len(tok) > 1:
            tok = tok.rstrip(".").lstrip(".") or "."
        words.append(_DIGIT_WORDS.get(tok, tok))
    return " ".join(words)


def _domain_after(tokens: list[str], j: int) -> tuple[str, int, bool] | None:
    """Domain starting at tokens[j]: (domain, tokens used, doubtful) or None if it does not look like one.

    Doubtful: ".com" was added to a bare provider name, or words were glued ("acme corp dot io").
    """
    word = re.compile(r"[a-z0-9][a-z0-9.\-]*")
    for glue in range(3):  # "acme corp dot io": Whisper may split one label into words
        k = j + glue + 1
        if k > len(tokens) or not all(word.fullmatch(tok) for tok in tokens[j:k]):
            return None
        parts = ["".join(tokens[j:k])]
        while k + 1 < len(tokens) and tokens[k] in (".", "-") and word.fullmatch(tokens[k + 1]):
            parts.extend([tokens[k], tokens[k + 1]])
            k += 2
        domain = "".join(parts).strip(".")
        if _DOMAIN_RE.fullmatch(domain) and (glue == 0 or len(parts) > 1):
            return domain, k - j, glue > 0
        if glue == 0 and domain in PROVIDER_DOMAINS:
            return PROVIDER_DOMAINS[domain], k - j, True
    return None


def _local_before(tokens: list[str], i: int) -> tuple[str, int]:
    """Local part ending at tokens[i-1] and how many words (not symbols) were glued together."""
    parts: list[str] = []
    k = i - 1
    while k >= 0 and len(parts) < 12:
        tok = tokens[k]
        spelled = len(tok) == 1 and bool(parts) and len(parts[0]) == 1  # "m a r i a": "i" is a letter here
        if tok in _EMAIL_STOP and not spelled and not (parts and parts[0] in "._-"):
            break
        if not re.fullmatch(r"[a-z0-9._\-+']+", tok):
            break
        parts.insert(0, tok.replace("'", ""))
        k -= 1
    while parts and parts[0] in "._-":
        parts.pop(0)
    glued = sum(
        1 for a, b in itertools.pairwise(parts) if a not in "._-" and b not in "._-" and len(a) > 1 and not b.isdigit()
    )
    return "".join(parts), glued


def _merged_candidate(t: str) -> EmailCandidate | None:
    """Recover "maria.lopeasetexample.com" → maria.lopeas@example.com (to be confirmed)."""
    glued = re.sub(r"\s*([._\-])\s*", r"\1", t)
    best: EmailCandidate | None = None
    for m in re.finditer(rf"[a-z0-9][a-z0-9._\-]*\.(?:{_TLD_RE})(?:\.[a-z]{{2}})?\b", glued):
        token = m.group(0)
        body_with_domain = token
        local = domain = None
        for known in sorted(KNOWN_DOMAINS, key=len, reverse=True):
            if body_with_domain.endswith(known) and len(body_with_domain) > len(known):
                prefix = body_with_domain[: -len(known)].rstrip("._-")
                domain = known
                confidence = 0.45
                for at in _MERGED_AT:
                    if prefix.endswith(at) and len(prefix) > len(at):
                        prefix = prefix[: -len(at)].rstrip("._-")
                        break
                else:
                    confidence = 0.35  # the "at" vanished: the split point is a guess
                local = prefix
                break
        if domain is None:
            # Unknown domain: split on the last "at"/"et" that leaves a plausible domain.
            body = token
            for at_match in reversed(list(re.finditer(r"(?<=[a-z0-9])(?:at|et)(?=[a-z0-9][a-z0-9\-]*\.)", body))):
                local, domain = body[: at_match.start()].rstrip("._-"), body[at_match.end() :]
                confidence = 0.3
                break
        if local and domain and _LOCAL_RE.fullmatch(local) and _DOMAIN_RE.fullmatch(domain):
            candidate = EmailCandidate(f"{local}@{domain}", confidence, True, "merged")
            if best is None or candidate.confidence > best.confidence:
                best = candidate
    return best


def extract_email(text: str) -> EmailCandidate | None:
    """An e-mail address from what the caller said, or None.

    Handles "john.smith@example.com", "john dot smith at example dot com", spelled letters
    ("j o h n at gmail dot com"), "underscore", "dash"/"hyphen", "gmail" without ".com", and
    Whisper's glued forms ("maria.lopeasetexample.com", "… et gmail.com"). Low-confidence
    results come with ``needs_confirmation=True``.
    """
    t = _email_text(text)
    tokens = t.split()
    # Which "at": an explicit "@" first, then the last spoken "at" followed by a domain, then a misheard one.
    for at_words, base, source in ((("@",), 0.92, "literal"), (("at",), 0.88, "spoken"), (_MERGED_AT, 0.6, "spoken")):
        for i in range(len(tokens) - 1, -1, -1):
            if tokens[i] not in at_words or i == 0:
                continue
            found = _domain_after(tokens, i + 1)
            if found is None:
                continue
            domain, _, doubtful = found
            local, glued_words = _local_before(tokens, i)
            if not local or not _LOCAL_RE.fullmatch(local):
                continue
            if source == "literal" and any(tok in ("at", ".") for tok in tokens[max(0, i - 3) : i + 3]):
                source = "spoken"
            confidence = base
            if glued_words:
                confidence -= 0.2  # "john smith at …": johnsmith? john.smith? ask
            if doubtful:
                confidence -= 0.1
            if domain not in KNOWN_DOMAINS:
                confidence -= 0.08
            confidence = round(max(0.05, min(confidence, 0.99)), 2)
            return EmailCandidate(f"{local}@{domain}", confidence, confidence < 0.8, source)
    return _merged_candidate(t)
