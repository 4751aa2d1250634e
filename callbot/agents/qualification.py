"""The qualification agent: the profile's questions, one at a time, scored as the seed defines.

An answer is taken from a key press (option 1, 2, 3…; 1 yes, 2 no), an ordinal ("the first
one"), an option's keywords or label, or yes/no words. An answer that fits no option is asked
again once with the options read out; a second miss scores nothing and the call moves on.
"""

from __future__ import annotations

import difflib
import re

from callbot.agents.context import CTX_ANSWERS, CTX_CLOSED, CTX_QUALIFIED, CTX_QUESTION, CTX_REASKED, Prompt
from callbot.agents.nlu import extract_ordinal, parse_yes_no
from callbot.agents.nlu.text import normalize, normalized
from callbot.agents.speaking import join_choices
from callbot.agents.step import Step
from callbot.business.profile import QualificationQuestion, QuestionKind
from callbot.integrations.models import LeadStatus

Answer = str | bool | None


def _mentions(text: str, phrase_: str) -> bool:
    return re.search(rf"\b{re.escape(normalized(phrase_))}\b", text) is not None


def _sounds_like(text: str, keyword: str) -> bool:
    """A one-word keyword misheard by speech recognition: "employee" for "employer"."""
    if " " in keyword.strip() or len(keyword) < 5:
        return False
    return any(difflib.SequenceMatcher(None, word, keyword.lower()).ratio() >= 0.85 for word in text.split())


def parse_answer(question: QualificationQuestion, text: str, dtmf: str | None = None) -> Answer:
    """The option value (choice), True/False (yes/no) or None when the answer fits nothing."""
    t = normalize(text)
    if question.kind is QuestionKind.YES_NO:
        if dtmf in ("1", "2"):
            return dtmf == "1"
        return parse_yes_no(text)
    if question.kind is not QuestionKind.CHOICE:
        return text.strip() or None
    options = question.options
    if dtmf is not None:
        return options[int(dtmf) - 1].value if dtmf.isdigit() and 1 <= int(dtmf) <= len(options) else None
    # An exact keyword beats a near one, then the longest wins: "not yet" is "no budget", not "yes".
    best: tuple[bool, int, str] | None = None
    for option in options:
        for word in (*option.keywords, option.label):
            exact = bool(word) and _mentions(t, word)
            if (exact or _sounds_like(t, word)) and (best is None or (exact, len(word)) > best[:2]):
                best = (exact, len(word), option.value)
    if best is not None:
        return best[2]
    index = extract_ordinal(text)
    if index is not None and -len(options) <= index <= len(options) and index != 0:
        return options[index - 1 if index > 0 else index].value
    return None


def _options_text(question: QualificationQuestion) -> str:
    if question.kind is QuestionKind.CHOICE:
        return join_choices([o.label for o in question.options])
    return "a yes or a no"


def _pending(step: Step) -> list[QualificationQuestion]:
    profile = step.config.profile
    if profile is None or step.get("qualification_complete"):
        return []
    answers = step.ctx.get(CTX_ANSWERS) or {}
    return [q for q in profile.qualification.questions if q.id not in answers]


async def qualification_agent(step: Step) -> None:
    """Take the answer to the question asked; score once every question has an answer."""
    profile = step.config.profile
    question = profile.qualification.question(step.ctx.get(CTX_QUESTION, "")) if profile else None
    if question is None:
        return
    answer = parse_answer(question, step.text, step.dtmf)
    if answer is None and not step.ctx.get(CTX_REASKED):
        step.ctx[CTX_REASKED] = True
        step.misunderstood()
        step.ask_phrase(Prompt.QUALIFY, "qualify_reask", options=_options_text(question))
        return
    step.ctx[CTX_ANSWERS] = {**(step.ctx.get(CTX_ANSWERS) or {}), question.id: answer}
    step.ctx[CTX_REASKED] = False
    if not _pending(step):
        await _score(step)


async def _score(step: Step) -> None:
    profile = step.config.profile
    assert profile is not None
    answers = step.ctx.get(CTX_ANSWERS) or {}
    score = profile.qualification.score(answers)
    qualified = profile.qualification.is_qualified(score)
    step.update["qualification_score"] = score
    step.update["qualification_complete"] = True
    step.ctx[CTX_QUALIFIED] = qualified
    step.set_prospect(notes=answers_text(step, answers))
    if qualified:
        step.say("qualified")
        await step.set_lead_status(LeadStatus.QUALIFIED, f"qualification score {score:g}")
    else:
        step.say("not_qualified")
        step.ctx[CTX_CLOSED] = True
        await step.set_lead_status(LeadStatus.NOT_QUALIFIED, f"qualification score {score:g}")


def answers_text(step: Step, answers: dict[str, Answer]) -> str:
    """"timeline: within a month; commitment: yes" — for the salesperson reading the lead."""
    profile = step.config.profile
    assert profile is not None
    parts = []
    for question in profile.qualification.questions:
        answer = answers.get(question.id)
        if isinstance(answer, bool):
            shown = "yes" if answer else "no"
        elif question.kind is QuestionKind.CHOICE and answer is not None:
            shown = next((o.label for o in question.options if o.value == answer), str(answer))
        else:
            shown = answer or "no answer"
        parts.append(f"{question.id}: {shown}")
    return "; ".join(parts)


def ask_next(step: Step, already_qualified: bool) -> bool:
    """Ask the next unanswered question; False when none is left (or the lead is qualified already)."""
    if already_qualified or not _pending(step):
        return False
    question = _pending(step)[0]
    if CTX_QUESTION not in step.ctx:  # the first question, asked the first time
        step.say("qualify_intro")
    step.ctx[CTX_QUESTION] = question.id
    step.ask(Prompt.QUALIFY, question.text)
    return True
