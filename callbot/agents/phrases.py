"""Every fixed sentence the bot says, keyed and templated, one table per language.

Templates without placeholders are pre-synthesised into the audio cache at start-up
(``fixed_phrases``), so a default variant without placeholders exists wherever one is useful.
"""

from __future__ import annotations

from string import Formatter

DEFAULT_LANGUAGE = "en"

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello, thanks for calling. How can I help you today?",
        "greeting_company": "Hello, thanks for calling {company}! How can I help you today?",
        "transfer_now": "Of course. I'm connecting you with an advisor now, please hold.",
        "transfer_closed": "Our advisors aren't available right now, so I've noted that you'd like a call back, "
        "and an advisor will call you during business hours. Is there anything else I can help you with?",
        "transfer_failed": "I'm sorry, I couldn't put you through just now. An advisor will call you back. "
        "Is there anything else I can help you with?",
        "no_answer": "I don't have that detail at hand, but an advisor can tell you all about it.",
        "greeting_known": "Welcome back, {name}! Thanks for calling again. How can I help you today?",
        "anything_else": "Is there anything else I can help you with?",
        "youre_welcome": "You're welcome! Is there anything else I can help you with?",
        "goodbye": "Thank you for calling. Have a great day. Goodbye!",
        "still_there": "Are you still there? How can I help you?",
        "silence_goodbye": "I haven't heard anything for a while, so I'll end the call now. "
        "Please call again anytime. Goodbye.",
        "trouble_hearing": "I'm having trouble hearing you. Could you repeat that?",
        "trouble_goodbye": "I'm sorry, I still can't hear you well. Please call again later. Goodbye.",
        "repeat_back": "I heard: {text}.",
        "error_goodbye": "I'm sorry, we're having technical trouble. Please call again later. Goodbye.",
        "max_duration_goodbye": "We've reached the time limit for this call. "
        "Thank you for calling, and goodbye.",
    },
}


class PhraseError(LookupError):
    """A phrase key, language or placeholder value is missing or wrong."""


def placeholders(template: str) -> set[str]:
    """The names of the ``{placeholders}`` in a template (escaped ``{{`` braces excluded)."""
    return {field for _, field, _, _ in Formatter().parse(template) if field is not None}


def _template(key: str, lang: str) -> str:
    if lang not in PHRASES:
        raise PhraseError(f"no phrases for language {lang!r}")
    template = PHRASES[lang].get(key)
    if template is None:
        # A language that lacks a key still gets a sentence rather than a dead line.
        template = PHRASES[DEFAULT_LANGUAGE].get(key)
    if template is None:
        raise PhraseError(f"unknown phrase key {key!r}")
    return template


def phrase(key: str, lang: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """Render phrase ``key`` in ``lang``; every placeholder needs a value and no extra values are allowed."""
    template = _template(key, lang)
    needed = placeholders(template)
    missing = needed - values.keys()
    if missing:
        raise PhraseError(f"phrase {key!r} needs value(s) for: {', '.join(sorted(missing))}")
    unexpected = values.keys() - needed
    if unexpected:
        raise PhraseError(f"phrase {key!r} has no placeholder(s): {', '.join(sorted(unexpected))}")
    return template.format(**values)


def fixed_phrases(lang: str = DEFAULT_LANGUAGE) -> list[str]:
    """Every sentence of ``lang`` that has no placeholders, rendered, in table order."""
    if lang not in PHRASES:
        raise PhraseError(f"no phrases for language {lang!r}")
    keys = dict.fromkeys([*PHRASES[lang], *PHRASES[DEFAULT_LANGUAGE]])
    rendered = [phrase(key, lang) for key in keys if not placeholders(_template(key, lang))]
    return list(dict.fromkeys(rendered))  # one cache entry per distinct sentence
