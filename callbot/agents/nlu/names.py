"""The caller's name: "my name is jane doe" → "Jane Doe", with a spelling winning over Whisper's guess."""

from __future__ import annotations

import difflib
import re

from callbot.agents.nlu.spelling import _spelled_runs, _spelling_tokens
from callbot.agents.nlu.text import normalize

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
