"""Offline understanding of what a caller said (Whisper transcripts), in plain Python and numpy.

- ``intents``: ``classify(text, context)`` → ``IntentResult`` (rules, then nearest example
  phrases embedded with all-MiniLM-L6-v2).
- ``dates``: ``parse_when(text, now, tz)`` → ``TimeWish`` (day or span, time or part of day,
  an aware window and a preferred start, DST-safe).
- Slot extractors, each a pure function that returns ``None`` (or "") when it is not sure there
  is a value, never a guess:
  - ``email``: ``extract_email(text)`` → ``EmailCandidate`` (address, confidence, whether to read it
    back), including Whisper's glued forms ("maria.lopeasetexample.com").
  - ``spelling``: ``extract_spelled(text)``, letters spelled one by one ("j o h n", NATO words).
  - ``names``: ``extract_name(text)``, the caller's name, a spelling winning over Whisper's guess.
  - ``phone``: ``extract_phone(text)``, a phone number in E.164.
  - ``answers``: ``parse_yes_no(text)`` and ``extract_ordinal(text)`` (which offered option).
  - ``numbers``: ``extract_number(text)``, ``spoken_numbers_to_digits``, ``ordinal_suffix``, number words.
- ``text``: ``normalize`` / ``normalized``, the shared normalisation (lower case, contractions expanded).
- ``embeddings``: ``SentenceEncoder`` / ``get_encoder()``, the model in numpy (no PyTorch).

The embedding model loads lazily on first use; call ``get_classifier().warm_up()`` at start-up
to pay that cost before the first call instead of during it.
"""

from callbot.agents.nlu.answers import extract_ordinal, parse_yes_no
from callbot.agents.nlu.dates import TimeWish, parse_when
from callbot.agents.nlu.email import EmailCandidate, extract_email
from callbot.agents.nlu.embeddings import EncoderUnavailableError, SentenceEncoder, get_encoder
from callbot.agents.nlu.intents import Intent, IntentClassifier, IntentResult, classify, get_classifier
from callbot.agents.nlu.names import extract_name
from callbot.agents.nlu.numbers import extract_number
from callbot.agents.nlu.phone import extract_phone
from callbot.agents.nlu.spelling import extract_spelled

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
