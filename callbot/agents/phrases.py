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
        "greeting_known": "Welcome back, {name}! Would you like to book a meeting with an advisor, "
        "or change one you already have?",
        "greeting_known_meeting": "Welcome back, {name}! I see your meeting {slot}. "
        "Would you like to keep it, move it, or cancel it?",
        "how_can_i_help": "Of course. How can I help?",
        # lead capture
        "ask_name": "May I have your name, please?",
        "ask_name_again": "Sorry, I didn't catch your name. Could you say it once more?",
        "thanks_name": "Thanks, {name}.",
        "ask_email": "What's the best email address to reach you?",
        "confirm_email": "I have {email}. Is that right?",
        "spell_email": "Sorry about that. Could you spell your email address for me, letter by letter?",
        "email_skipped": "No problem, the advisor will confirm your email with you.",
        "ask_interest": "Which program are you interested in: {programs}?",
        # qualification
        "qualify_intro": "A few quick questions so the advisor can prepare.",
        "qualify_reask": "Sorry, was that {options}?",
        "qualified": "Thanks, that's helpful.",
        "not_qualified": "Thank you. It sounds like the timing isn't quite right yet, so an advisor will "
        "send you some information to look through.",
        # scheduling
        "offer_meeting": "Would you like to book a free call with an advisor?",
        "offer_slots": "I can offer {slots}. Which one suits you best?",
        "press_keys": "You can also press {keys}.",
        "ask_time": "What day and time would suit you?",
        "ask_time_instead": "What day and time would suit you better?",
        "confirm_slot": "That would be with {advisor} {slot}. Shall I book it?",
        "wish_closed": "We aren't open then.",
        "wish_holiday": "We're closed that day.",
        "wish_too_soon": "That's a little too soon for me to book.",
        "wish_too_far": "That's further ahead than I can book.",
        "wish_taken": "That time is already taken.",
        "nearest_free": "The nearest free times are {slots}. Which one suits you best?",
        "slot_taken_now": "I'm sorry, that time was just taken. The nearest free time is with {advisor} {slot}. "
        "Shall I book that instead?",
        "no_slots": "I'm sorry, I can't find a free time with an advisor soon. An advisor will call you to find one.",
        "booked": "You're booked with {advisor} {slot}.",
        "keep_meeting": "Great, your meeting stays as it is.",
        "confirm_cancel": "Shall I cancel your meeting {slot}?",
        "cancelled": "Your meeting is cancelled.",
        "not_cancelled": "Okay, I'll keep it.",
        "no_meeting_found": "I can't find a meeting booked for this number.",
        "reschedule_ask": "Your meeting is {slot}. What day and time would suit you better?",
        "rescheduled": "Done: your meeting is now with {advisor} {slot}.",
        "pick_unclear": "Sorry, which one would you like?",
        "time_unclear": "Sorry, I didn't catch the day and time.",
        "yes_no_unclear": "Sorry, was that a yes or a no?",
        "no_problem": "No problem.",
        "calendar_down": "I'm sorry, I can't reach our calendar right now. An advisor will call you to find a time.",
        # a person instead of the bot
        "offer_callback": "Our advisors aren't available right now. An advisor can call you back {slot}. "
        "Would that work?",
        "callback_booked": "Done: {advisor} will call you {slot}.",
        "callback_noted": "No problem, an advisor will call you back during business hours.",
        "offer_human": "I'm sorry, I'm having trouble understanding. Would you like me to connect you "
        "with an advisor?",
        "anything_else": "Is there anything else I can help you with?",
        "youre_welcome": "You're welcome!",
        "goodbye": "Thank you for calling. Have a great day. Goodbye!",
        "still_there": "Are you still there? How can I help you?",
        "still_there_short": "Are you still there?",
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


def fixed_phrases(lang: str = DEFAULT_LANGUAGE, **known: object) -> list[str]:
    """Every sentence of ``lang`` whose placeholders are all in ``known`` (e.g. the company name, the
    same on every call), rendered, in table order: what the audio cache can hold before any call."""
    if lang not in PHRASES:
        raise PhraseError(f"no phrases for language {lang!r}")
    keys = dict.fromkeys([*PHRASES[lang], *PHRASES[DEFAULT_LANGUAGE]])
    rendered = []
    for key in keys:
        needed = placeholders(_template(key, lang))
        if needed <= known.keys():
            rendered.append(phrase(key, lang, **{name: known[name] for name in needed}))
    return list(dict.fromkeys(rendered))  # one cache entry per distinct sentence
