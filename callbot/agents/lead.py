"""The lead agent: who the caller is (name, e-mail read back and confirmed) and what they want.

Callers say several things at once ("Hi, I'm John Smith, I'd like to talk about the data
bootcamp"), so every turn is searched for a name, an e-mail, a program and a wish to meet,
whatever was asked; the answer to the question asked is then taken more liberally (a bare
"John Smith" answers "May I have your name?").
"""

from __future__ import annotations

import difflib
import re

from callbot.agents.context import (
    CTX_CLOSED,
    CTX_EMAIL_CANDIDATE,
    CTX_EMAIL_DONE,
    CTX_EMAIL_TRIES,
    CTX_EXISTING,
    CTX_GOAL,
    CTX_INTEREST_ASKED,
    CTX_KNOWN_CALLER,
    CTX_LLM_SLOTS,
    CTX_NAME_TRIES,
    CTX_WISH,
    Goal,
    Prompt,
)
from callbot.agents.nlu import Intent as NluIntent
from callbot.agents.nlu import extract_email, extract_name, extract_spelled, parse_when
from callbot.agents.nlu.text import normalize, normalized
from callbot.agents.phrases import phrase
from callbot.agents.speaking import join_choices, spelled_email
from callbot.agents.step import Step
from callbot.business.profile import Program

MAX_NAME_TRIES = 2
MAX_EMAIL_TRIES = 3

# Outside "what is your name?", a name is only taken when the caller introduces it.
_NAME_CUE = re.compile(
    r"(?i:\b(my name is|my name's|name is|call me|i said|i meant|spelled|spell it)\b)|"
    # "I'm Dave", "this is Maria", "it's Jon": the transcript capitalises names ("I'm mostly interested" is none).
    r"(?i:\b(this is|it's|it is|i'm|i am))\s+[A-Z]"
)
_NO_EMAIL = re.compile(r"\b(do not|don't|dont|rather not|prefer not|no) (have |give |share )?(an |any |my )?e-?mail\b")
# Prompts where a day and time on its own means "I'd like a meeting then".
_OPENING_PROMPTS = frozenset({Prompt.GREETING, Prompt.HOW_CAN_I_HELP, Prompt.KNOWN_MENU, Prompt.OFFER_MEETING})
_KEEP = re.compile(r"\b(keep|stay|leave it|fine as it is|that's fine|that is fine|still works|see you then)\b")


def match_program(programs: list[Program], text: str) -> Program | None:
    """The program the caller named (its name or an alias), longest match first."""
    t = f" {normalize(text)} "
    best: tuple[int, Program] | None = None
    for program in programs:
        for name in (program.name, *program.aliases):
            words = normalized(name)
            if words and f" {words} " in t and (best is None or len(words) > best[0]):
                best = (len(words), program)
    return best[1] if best else None


def corrected_name(old: str, new: str) -> str:
    """"No, it's John" corrects one word of "Jon Smith" (the most similar one) and keeps the rest."""
    old_words, new_words = old.split(), new.split()
    if len(new_words) != 1 or len(old_words) < 2:
        return new
    scores = [difflib.SequenceMatcher(None, word.lower(), new.lower()).ratio() for word in old_words]
    best = max(range(len(old_words)), key=scores.__getitem__)
    return " ".join(new if i == best else word for i, word in enumerate(old_words))


def _first_name(name: str) -> str:
    return name.split()[0]


def take_anything_said(step: Step) -> bool:
    """Fill what the caller volunteered: name, e-mail, program, a time, a wish to meet; True if any."""
    before = (step.prospect, step.ctx.get(CTX_EMAIL_CANDIDATE), step.ctx.get(CTX_GOAL), step.ctx.get(CTX_WISH))
    _take_anything_said(step)
    return before != (step.prospect, step.ctx.get(CTX_EMAIL_CANDIDATE), step.ctx.get(CTX_GOAL),
                      step.ctx.get(CTX_WISH))


def _take_anything_said(step: Step) -> None:
    text = step.text
    if not text:
        return
    prompt = step.prompt
    if prompt is not Prompt.ASK_NAME and _NAME_CUE.search(text):
        name = extract_name(text)
        if name and step.prospect.name and step.intent is NluIntent.CORRECTION:
            name = corrected_name(step.prospect.name, name)
        if name and name != step.prospect.name:
            step.set_prospect(name=name)
            step.say("thanks_name", name=_first_name(name))
    if prompt not in (Prompt.ASK_EMAIL, Prompt.SPELL_EMAIL, Prompt.CONFIRM_EMAIL):
        candidate = extract_email(text)
        if candidate is not None:
            step.ctx[CTX_EMAIL_CANDIDATE] = candidate.address
            step.ctx[CTX_EMAIL_DONE] = False
    profile = step.config.profile
    if profile is not None:
        program = match_program(profile.programs, text)
        if program is not None:
            step.set_prospect(interest=program.name)
            step.ctx.setdefault(CTX_GOAL, Goal.BOOK)
    if step.intent is NluIntent.BOOK_MEETING:
        step.ctx[CTX_GOAL] = Goal.BOOK
        step.ctx[CTX_CLOSED] = False
    opening = prompt in _OPENING_PROMPTS
    if profile and (opening or step.intent in (NluIntent.BOOK_MEETING, NluIntent.PROVIDE_INFO, NluIntent.CORRECTION)):
        if parse_when(text, step.now(), profile.zone) is not None:
            step.ctx[CTX_WISH] = text  # searched when scheduling starts
            if opening and step.ctx.get(CTX_GOAL) is None:  # "Friday at 10?" to "book a meeting?"
                step.ctx[CTX_GOAL] = Goal.BOOK


async def lead_agent(step: Step) -> None:
    """Handle the caller's turn as an answer to the lead questions (or to the greeting)."""
    prompt = step.prompt
    if prompt is Prompt.ASK_NAME:
        _answer_name(step)
    elif prompt in (Prompt.ASK_EMAIL, Prompt.SPELL_EMAIL):
        _answer_email(step, learned_else=take_anything_said(step))
    elif prompt is Prompt.CONFIRM_EMAIL:
        _answer_email_check(step)
    elif prompt is Prompt.ASK_INTEREST:
        _answer_interest(step)
    elif prompt is Prompt.OFFER_MEETING:
        answer = step.yes_no()
        if answer:
            step.ctx[CTX_GOAL] = Goal.BOOK
        elif answer is False:
            step.say("no_problem")
            step.ctx[CTX_CLOSED] = True
    elif prompt is Prompt.KNOWN_MENU:
        _answer_known_menu(step)
    elif prompt is Prompt.ANYTHING_ELSE and step.yes_no() and step.intent is NluIntent.AFFIRM:
        step.ask_phrase(Prompt.HOW_CAN_I_HELP, "how_can_i_help")
    take_anything_said(step)
    if step.rule_intent == "thanks" and not step.asked:
        step.say("youre_welcome")


# "I'm mostly interested in…" is no name: after "I'm", a name is capitalised in the transcript.
_NOT_NAMED = re.compile(r"(?i:\b(i'm|i am|im))\s+[a-z]")


def _answer_name(step: Step) -> None:
    text = step.text
    name = None if _NOT_NAMED.search(text) and not _NAME_CUE.search(text) else extract_name(text)
    name = name or (step.ctx.get(CTX_LLM_SLOTS) or {}).get("name")
    if name:
        step.set_prospect(name=name)
        step.say("thanks_name", name=_first_name(name))
        return
    step.ctx[CTX_NAME_TRIES] = step.ctx.get(CTX_NAME_TRIES, 0) + 1
    step.misunderstood()


def _answer_email(step: Step, learned_else: bool) -> None:
    """``learned_else``: the turn told something else (their name, a program): no e-mail is no failure."""
    text = step.text
    if _NO_EMAIL.search(normalize(text)) or (step.intent is NluIntent.DENY and not extract_spelled(text)):
        step.ctx[CTX_EMAIL_DONE] = True
        step.say("no_problem")
        return
    candidate = extract_email(text)
    address = candidate.address if candidate else _llm_email(step)
    if candidate is not None and candidate.source == "merged" and step.prospect.name:
        address = name_shaped(address, step.prospect.name)
    previous = step.ctx.get(CTX_EMAIL_CANDIDATE)
    if address is None and previous and step.prompt is Prompt.SPELL_EMAIL:
        letters = extract_spelled(text)  # only the part before the @ was spelled
        if len(letters) >= 2:
            address = f"{letters.lower()}@{previous.split('@', 1)[1]}"
    if address:
        step.ctx[CTX_EMAIL_CANDIDATE] = address
    elif not learned_else:
        _email_failed(step)


def name_shaped(address: str, name: str) -> str:
    """Whisper glues "john.smith at gmail" into "john.smithagmail.com": an "a" or "e" left of the
    @ may be what remains of "at". Drop it when the rest is exactly the caller's name."""
    local, _, domain = address.partition("@")
    names = [w.lower() for w in re.findall(r"[A-Za-z]+", name)]
    if len(local) > 2 and local[-1] in "ae" and names:
        words = [w for w in re.split(r"[._\-]", local[:-1]) if w]
        if words and (words == names or "".join(words) == "".join(names) or words == names[:1]):
            return f"{local[:-1]}@{domain}"
    return address


def _llm_email(step: Step) -> str | None:
    """The language model's reading of an address, if it looks like one."""
    value = (step.ctx.get(CTX_LLM_SLOTS) or {}).get("email", "").strip().lower()
    return value if extract_email(value) is not None else None


def _answer_email_check(step: Step) -> None:
    candidate = extract_email(step.text)
    if candidate is not None and candidate.address != step.ctx.get(CTX_EMAIL_CANDIDATE):
        step.ctx[CTX_EMAIL_CANDIDATE] = candidate.address  # "no, it's …": read the new one back
        return
    answer = step.yes_no()
    if answer:
        step.set_prospect(email=step.ctx.get(CTX_EMAIL_CANDIDATE))
        step.ctx[CTX_EMAIL_DONE] = True
        return
    if answer is None:
        step.misunderstood()
        step.say("yes_no_unclear")
        return
    if _email_failed(step):
        step.ask_phrase(Prompt.SPELL_EMAIL, "spell_email")


def _email_failed(step: Step) -> bool:
    """Count a failed try; False once the e-mail is given up on (the advisor will ask)."""
    tries = step.ctx.get(CTX_EMAIL_TRIES, 0) + 1
    step.ctx[CTX_EMAIL_TRIES] = tries
    if tries >= MAX_EMAIL_TRIES:
        step.ctx[CTX_EMAIL_DONE] = True
        step.say("email_skipped")
        return False
    step.misunderstood()
    return True


def _answer_interest(step: Step) -> None:
    step.ctx[CTX_INTEREST_ASKED] = True
    profile = step.config.profile
    if profile is not None and match_program(profile.programs, step.text):
        return  # taken by take_anything_said
    words = normalize(step.text).split()
    if step.intent not in (NluIntent.DENY, NluIntent.ASK_QUESTION) and len(words) >= 2:
        step.set_prospect(interest=step.text.strip().rstrip(".!?")[:200])


def _answer_known_menu(step: Step) -> None:
    if step.ctx.get(CTX_EXISTING) and (_KEEP.search(step.text.lower()) or step.intent is NluIntent.AFFIRM):
        step.say("keep_meeting")
        step.ctx[CTX_CLOSED] = True
    elif step.intent in (NluIntent.BOOK_MEETING, NluIntent.AFFIRM):
        step.ctx[CTX_GOAL] = Goal.BOOK
    elif step.intent is NluIntent.DENY:
        step.ctx[CTX_CLOSED] = True


def ask_next(step: Step) -> bool:
    """Ask the next lead question, if one is missing; False when the lead is complete."""
    prospect = step.prospect
    if not prospect.name and step.ctx.get(CTX_NAME_TRIES, 0) < MAX_NAME_TRIES:
        key = "ask_name_again" if step.ctx.get(CTX_NAME_TRIES) else "ask_name"
        step.ask_phrase(Prompt.ASK_NAME, key)
        return True
    if not step.ctx.get(CTX_EMAIL_DONE) and not (prospect.email and step.ctx.get(CTX_KNOWN_CALLER)):
        candidate = step.ctx.get(CTX_EMAIL_CANDIDATE)
        if candidate:
            step.ask_phrase(Prompt.CONFIRM_EMAIL, "confirm_email", email=spelled_email(candidate))
        elif step.prompt is Prompt.SPELL_EMAIL or step.ctx.get(CTX_EMAIL_TRIES):
            step.ask_phrase(Prompt.SPELL_EMAIL, "spell_email")
        else:
            step.ask_phrase(Prompt.ASK_EMAIL, "ask_email")
        return True
    profile = step.config.profile
    if not prospect.interest and not step.ctx.get(CTX_INTEREST_ASKED) and profile and profile.programs:
        programs = join_choices([p.name for p in profile.programs])
        step.ask_phrase(Prompt.ASK_INTEREST, "ask_interest", programs=programs)
        return True
    return False


def ask_opening(step: Step) -> None:
    """No goal yet: a known caller chooses between booking and changing; others are offered a meeting."""
    if step.ctx.get(CTX_KNOWN_CALLER):
        step.ask(Prompt.KNOWN_MENU, phrase("offer_meeting", step.lang))
    else:
        step.ask_phrase(Prompt.OFFER_MEETING, "offer_meeting")
