"""Short answers: yes or no (``parse_yes_no``) and which offered option was picked (``extract_ordinal``)."""

from __future__ import annotations

import re

from callbot.agents.nlu.numbers import ORDINAL_UNITS, UNITS
from callbot.agents.nlu.text import normalize

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
