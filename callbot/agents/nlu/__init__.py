"""Offline understanding of what a caller said (Whisper transcripts), in plain Python and numpy.

- ``intents``: ``classify(text, context)`` → ``IntentResult`` (rules, then nearest example
  phrases embedded with all-MiniLM-L6-v2).
- ``dates``: ``parse_when(text, now, tz)`` → ``TimeWish`` (day or span, time or part of day,
  an aware window and a preferred start, DST-safe).
- ``slots``: e-mail (including Whisper's glued forms), spelled letters, name, phone (E.164),
  yes/no, ordinal choice, numbers.
- ``embeddings``: ``SentenceEncoder`` / ``get_encoder()``, the model in numpy (no PyTorch).

The embedding model loads lazily on first use; call ``get_classifier().warm_up()`` at start-up
to pay that cost before the first call instead of during it.
"""

from callbot.agents.nlu.dates import TimeWish, parse_when
from callbot.agents.nlu.embeddings import EncoderUnavailableError, SentenceEncoder, get_encoder
from callbot.agents.nlu.intents import Intent, IntentClassifier, IntentResult, classify, get_classifier
from callbot.agents.nlu.slots import (
    EmailCandidate,
    extract_email,
    extract_name,
    extract_number,
    extract_ordinal,
    extract_phone,
    extract_spelled,
    parse_yes_no,
)

__all__ = [
    "EmailCandidate",
    "EncoderUnavailableError",
    "Intent",
    "IntentClassifier",
    "IntentResult",
    "SentenceEncoder",
    "TimeWish",
    "classify",
    "extract_email",
    "extract_name",
    "extract_number",
    "extract_ordinal",
    "extract_phone",
    "extract_spelled",
    "get_classifier",
    "get_encoder",
    "parse_when",
    "parse_yes_no",
]
