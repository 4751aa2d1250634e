"""Whether a caller's turn ends the call, says thanks, or carries something to act on.

Deliberately narrow rules, run before the NLU: a goodbye must be unmistakable, because ending
a call by mistake is the worst error a phone agent can make.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Intent(StrEnum):
    EMPTY = "empty"  # nothing intelligible was said
    GOODBYE = "goodbye"
    THANKS = "thanks"
    STATEMENT = "statement"  # anything else: a request, a question, an answer


# A turn ends the call when its last substantive clause is a closing phrase surrounded only by
# filler ("ok thanks, bye", "you can hang up now", "that's all I needed"). A closing word inside
# a request that goes on ("say goodbye to my old provider and switch") leaves other words in the
# clause, so it is not a goodbye.

_CLOSINGS: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in (
        "bye",
        "bye bye",
        "goodbye",
        "good bye",
        "that's all",
        "that is all",
        "that's it",
        "that is it",
        "that's everything",
        "that is everything",
        "nothing else",
        "hang up",
        "end the call",
        "end this call",
        "i'm done",
        "i am done",
        "we're done",
        "we are done",
        "i'm all set",
        "i am all set",
        "see you",
        "see ya",
        "talk to you later",
        "talk later",
        "take care",
        "have a nice day",
        "have a good day",
        "have a great day",
    )
)

# Answers to "anything else?" that mean no.
_DECLINES: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in ("no", "nope", "nah", "not really", "i'm good", "i am good", "no thanks", "no thank you")
)

_THANKS = frozenset({"thanks", "thank", "cheers", "appreciate", "appreciated"})

# Words that may surround a closing phrase or make up a pure courtesy.
_FILLER = _THANKS | frozenset(
    "ok okay alright all right well so oh um uh hmm yes yeah yep sure great perfect good fine cool "
    "awesome wonderful and then now today just please you very much lot a again for your help it "
    "everything i i'll i'd we can could want to need needed wanted would like let's me that was is".split()
)

_CLAUSE_SPLIT = re.compile(r"[.,!?;:]+")
_WORD = re.compile(r"[a-z0-9']+")


def _strip_phrases(words: list[str], phrases: tuple[tuple[str, ...], ...]) -> tuple[list[str], bool]:
    """Remove every occurrence of the phrases (longest first); report whether any was found."""
    rest: list[str] = []
    found = False
    ordered = sorted(phrases, key=len, reverse=True)
    i = 0
    while i < len(words):
        for p in ordered:
            if tuple(words[i : i + len(p)]) == p:
                found = True
                i += len(p)
                break
        else:
            rest.append(words[i])
            i += 1
    return rest, found


def detect_intent(text: str, *, after_anything_else: bool = False) -> Intent:
    """Classify a caller turn. ``after_anything_else``: the bot just asked if there was anything else."""
    normalized = text.lower().replace("\u2019", "'")
    clauses = [_WORD.findall(part) for part in _CLAUSE_SPLIT.split(normalized)]
    clauses = [words for words in clauses if words]
    if not clauses:
        return Intent.EMPTY

    closing_sets = _CLOSINGS + _DECLINES if after_anything_else else _CLOSINGS
    for words in reversed(clauses):
        rest, found = _strip_phrases(words, closing_sets)
        if all(word in _FILLER for word in rest):
            if found:
                return Intent.GOODBYE
            continue  # a courtesy such as "thank you" after the real content
        return Intent.STATEMENT

    if any(word in _THANKS for words in clauses for word in words):
        return Intent.THANKS
    return Intent.STATEMENT
