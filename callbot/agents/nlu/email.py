"""E-mail addresses from speech, including Whisper's glued forms, with a confidence.

Dictated addresses arrive mangled ("maria dot lopez at example dot com" becomes
"maria.lopeasetexample.com"); ``extract_email`` returns an ``EmailCandidate`` whose confidence
tells the dialogue to read the address back or ask for it to be spelled.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from callbot.agents.nlu.numbers import _DIGIT_WORDS

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


# Spoken symbols and providers, and Whisper's ways of writing them, in the order they apply.
_SPOKEN_FORMS: list[tuple[re.Pattern[str], str]] = [(re.compile(pattern), replacement) for pattern, replacement in (
    (r"\bat\s+(sign|symbol)\b", " @ "),
    (r"\bunder\s*score\b", " _ "),
    (r"\b(dash|hyphen)\b", " - "),
    (r"\b(dot|period|point)\b", " . "),
    (r"\bdot\s*com\b|\bdotcom\b", " . com "),
    (r"\b(?:g|gee|jee)[\s\-]*mail\b", "gmail"),
    (r"\bhot\s+mail\b", "hotmail"),
    (r"\b(?:i|eye)[\s\-]+cloud\b", "icloud"),
    (r"\bout\s+look\b", "outlook"),
    (r"\bya\s+hoo\b", "yahoo"),
    (r"\ba\s+o\s+l\b", "aol"),
    (r"\.\s*(?:calm|come|cum|comb|con)\b", ". com"),
    (r"\bdouble\s+([a-z0-9])\b", r"\1\1"),
)]


def _email_text(text: str) -> str:
    t = text.lower().replace("’", "").replace("'", "")
    t = re.sub(r"[,;!?\"()…<>]", " ", t)
    t = re.sub(r"\b([a-z])\s+as in\s+[a-z]+\b", r"\1", t)
    # "J-O-H-N" / "J.O.H.N" is a spelling, not a hyphenated name.
    t = re.sub(r"\b[a-z0-9](?:[\-.][a-z0-9]\b)+", lambda m: " ".join(re.split(r"[\-.]", m.group(0))), t)
    for pattern, replacement in _SPOKEN_FORMS:
        t = pattern.sub(replacement, t)
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
