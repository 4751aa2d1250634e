"""Shared text normalisation for the extractors: lower case, contractions expanded, punctuation gone.

Whisper transcripts vary in case, apostrophes and punctuation; ``normalize`` gives the one form
the intent rules and the extractors match on, and ``normalized`` caches it for fixed words.
"""

from __future__ import annotations

import re
from functools import lru_cache

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
    """Lower case, contractions expanded, punctuation gone: the form the rules match on."""
    t = _expand_contractions(_clean(text))
    t = re.sub(r"[.:](?!\d)", " ", t)
    return re.sub(r"\s+", " ", t).strip()


@lru_cache(maxsize=4096)
def normalized(text: str) -> str:
    """``normalize`` for fixed words (a profile's program names, aliases, keywords): worked out once each."""
    return normalize(text)
