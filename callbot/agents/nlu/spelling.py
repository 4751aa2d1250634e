"""Letters spelled one by one ("j o h n", "J-A-N-E", "j as in juliet", NATO words) → "john"."""

from __future__ import annotations

import re

from callbot.agents.nlu.numbers import _DIGIT_WORDS

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
