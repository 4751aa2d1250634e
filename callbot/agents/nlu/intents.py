"""What the caller wants, from one transcript: rules where they are certain, nearest examples elsewhere.

``classify(text, context)`` first tries regular expressions on normalised text (lower case,
no punctuation, contractions expanded, so "I'd", "Id" and "i would" match alike). Rules only
claim what they are sure of ("call me back", "talk to a human", "say that again"). The rest
goes to a nearest-neighbour match against a few example phrases per intent, embedded once
with all-MiniLM-L6-v2 (``embeddings.py``); below a similarity threshold the answer is UNKNOWN,
so the dialogue asks again instead of acting on a guess.

``context`` is what the bot just asked: "yes_no" (or "confirm"), "email", "name", "phone",
"time", "slot_choice", "anything_else". It decides what short, vague answers mean: "sure",
"that works", "sounds good" are AFFIRM after a yes/no question, a bare "Jane Doe" is
PROVIDE_INFO after "what is your name?". Commands (transfer, repeat, callback) win in every
context.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np

from callbot.agents.nlu.answers import extract_ordinal, parse_yes_no
from callbot.agents.nlu.dates import MONTHS, WEEKDAYS, parse_when
from callbot.agents.nlu.email import extract_email
from callbot.agents.nlu.names import extract_name
from callbot.agents.nlu.numbers import ORDINAL_UNITS, TEENS, TENS, UNITS
from callbot.agents.nlu.phone import extract_phone
from callbot.agents.nlu.spelling import extract_spelled
from callbot.agents.nlu.text import normalize

logger = logging.getLogger("callbot.agents.nlu.intents")


class Intent(StrEnum):
    GREETING = "greeting"
    GOODBYE = "goodbye"
    AFFIRM = "affirm"
    DENY = "deny"
    BOOK_MEETING = "book_meeting"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    ASK_QUESTION = "ask_question"
    TRANSFER_HUMAN = "transfer_human"
    REPEAT = "repeat"
    CORRECTION = "correction"
    PROVIDE_INFO = "provide_info"
    CALLBACK = "callback"
    THANKS = "thanks"
    UNKNOWN = "unknown"


YES_NO_CONTEXTS = frozenset({"yes_no", "confirm", "anything_else"})
SLOT_CONTEXTS = frozenset({"email", "name", "phone", "time", "date", "slot_choice"})


@dataclass(frozen=True)
class IntentResult:
    """The intent, how sure (0–1), the runner-up intents with their scores, and what decided."""

    intent: Intent
    confidence: float
    alternatives: tuple[tuple[Intent, float], ...] = field(default=())
    source: str = "rule"  # "rule", "context", "embedding" or "none"


# --------------------------------------------------------------------------- rules

_FILLER_START = re.compile(r"^((um+|uh+|er+|erm|hmm+|mm+|oh|ah|well|so|like|hey so)\s+)+")
_GREETING = r"(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening|day))( there| again)?"
_GREETING_ONLY = re.compile(
    rf"^{_GREETING}( (how are you( doing)?( today)?|how is it going|is (this|anyone|somebody) there|"
    r"anyone there|can you hear me))?$|^(is anyone there|can you hear me|are you there)$"
)
_GREETING_PREFIX = re.compile(rf"^{_GREETING}\s+")

_REPEAT = re.compile(
    r"^(sorry|pardon|pardon me|excuse me|what|huh|come again|say again|sorry what|what was that|i am sorry|"
    r"sorry say again|what did you say|repeat|repeat please|one more time|again please|what now|eh|hold on what|"
    r"wait what|sorry come again)$|\byou (cut|broke|are cutting|are breaking) (out|up)\b|\bcannot hear you\b|"
    r"\b(say|repeat) (that|it|this|the last part|what you said)( again| one more time)?\b|\bsay again\b|"
    r"\bcome again\b|\bone more time\b|\b(did not|could not|cannot|can not|did no) (catch|hear|get|understand) "
    r"(that|you|it|what you said|the last part)\b|\b(could|can|would) you repeat\b|\bwhat did you (just )?say\b|"
    r"\bi missed (that|what you said)\b|\b(speak up|talk slower|speak slower|more slowly)\b|\bsay it again\b"
)
_TRANSFER = re.compile(
    r"\b(talk|speak|chat|connect|transfer|put|get|pass) (me )?(to|with|through to|over to|on with)?\s?"
    r"(a |an |the |some |real |actual |live |your )*(human|humans|person|agent|representative|rep|operator|"
    r"someone|somebody|manager|salesperson|sales person|sales rep|staff member|employee|receptionist)( being)?\b|"
    r"^(a )?(human|real person|live agent|operator|representative|agent)( please)?$|"
    r"\b(transfer|connect) me\b|\b(real|actual|live) (person|human|agent)\b|\bhuman being\b"
)
_CALLBACK = re.compile(
    r"\bcall (me )?back\b|\b(ring|phone) me back\b|\bcall me (later|tomorrow|another time|in a|in an|next|on|at a|"
    r"this)\b|\bgive me a (call|ring)\b|\bcall ?back\b|\bcan you call me\b|\bcould you call me\b|"
    r"\b(reach|contact) me later\b|\bcall again later\b|\b(can|could) we (talk|speak|do this|chat) (some )?(other|"
    r"another) time\b|\b(can|could) we (talk|speak|do this) later\b|\bi am (busy|driving|at work|in a meeting) "
    r"(right )?now\b|\bnot a good time\b"
)
_CORRECTION = re.compile(
    r"^(no|nope|nah|sorry|wait|oops|oh|no no)\s+(it is|its|it was|i said|i meant|i mean|my [a-z]+ is|"
    r"it should be|the( [a-z]+){1,2} is|not [a-z0-9]+ but|make it|change it to)\b|"
    r"^actually (it is|i meant|i said|my|make it|change|it should|no|the|not)\b|"
    r"\bi meant\b|\bi said\b(?! (yes|no)\b)|\b(scratch|strike|cancel|ignore) that\b|\bnot [a-z0-9]+ but\b|"
    r"\b(correction|let me correct|i misspoke|i made a mistake|wrong one)\b|\bmake (it|that) [a-z0-9]+ instead\b|"
    r"\bit should (be|say)\b|\byou (misheard|got it wrong|got that wrong)\b|"
    r"\bthat is (not|wrong)( right| correct)? (it is|its|it should)\b"
)
_CANCEL = re.compile(
    r"\bcancel\b|\b(cannot|can not|will not be able to|am not able to|not going to be able to) make (it|the "
    r"(meeting|appointment|call))\b|\b(drop|delete|remove) (my|the|our) (booking|appointment|meeting)\b|"
    r"\bcall (it|the meeting|the appointment|the call) off\b|\b(no longer|do not) (need|want) "
    r"(the|my|that) (appointment|meeting|call|booking)\b"
)
_RESCHEDULE = re.compile(
    r"\b(reschedule|re schedule|re-schedule|postpone)\b|"
    r"\b(move|change|push|shift|bump)( back)? (my|the|our|this|that) (appointment|meeting|booking|call|demo|"
    r"consultation|slot|time)\b|\b(push|move) it (back|forward|to)\b|\b(another|different|other|new|later) (day|time|"
    r"date|slot)\b|\bcannot make it\b.*\b(another|different|"
    r"other) (time|day)\b|\b(another|different) (time|day) for (my|the) (appointment|meeting)\b"
)
_BOOK = re.compile(
    r"\b(book|schedule|set up|setup|arrange|organize|organise|reserve|plan) (me )?(in )?(for )?"
    r"(a |an |the |some |another )?(time|meeting|appointment|call|demo|consultation|session|slot|visit|chat|"
    r"info session|information session|tour)\b|"
    r"\b(make|get|have) (me )?(a |an )(time|meeting|appointment|call|demo|consultation|session|slot|visit|chat|"
    r"info session|information session|tour)\b|"
    r"\bbook (me|us|it|something|in)\b|\b(when|where) can (i|we) meet\b|\b(meet|chat|talk|speak) (with |to )?(an|the|"
    r"your|a|one of your|one of the) (advisor|adviser|consultant|counselor|counsellor|advisors|advisers)\b|"
    r"\b(i would like|i want|i need|can i|could i|i am looking|i am calling) (to )?(book|schedule)\b|"
    r"\b(can|could|shall) (we|i) (meet|get together|come in|come by|stop by|visit)\b"
)
_ABOUT_ME = re.compile(
    r"^(i|we) (live|am based|are based|am located|work|study|graduated|have been working|have worked|used to work|"
    r"have been (a|an|in)|"
    r"am currently|currently work)\b|^i have (a|an) (bachelor|master|degree|diploma|associate|phd)|"
    r"^i am (a|an) (?!bit\b|little\b|question\b)[a-z]+( [a-z]+)?$"
)
_BOOKING_WORDS = re.compile(r"\b(come in|come by|visit|meet|meeting|appointment|book|schedule)\b")
_TELL_ME = re.compile(
    r"^((can|could|would) you |please )?(tell|explain to) me (a bit |a little )?(more )?about\b|"
    r"\bi have (a|some|one more|another) questions?\b|^(quick )?question\b"
)
_THANKS = re.compile(
    r"^(ok |okay |great |perfect |alright |all right |awesome |wonderful |oh )?(thanks|thank you|thank you very much|"
    r"thank you so much|thanks a lot|thanks so much|many thanks|much appreciated|i appreciate it|appreciate it|"
    r"cheers|thx|ty|that is helpful|that is very helpful|that helps|thanks a bunch|thanks a ton|thank you kindly)"
    r"( (so|very) much| mate| man| buddy)?"
    r"( for (your|the|all the) (help|info|information|time)| for that| for calling)?( again)?$"
)
_GOODBYE = re.compile(
    r"\b(bye|goodbye|good bye|bye bye|see you|see ya|talk (to you )?(later|soon)|have a (good|nice|great|lovely) "
    r"(day|one|evening|night|weekend|afternoon)|that is all|that is it for (now|today)|that will be all|"
    r"nothing else|i am done|i have to go|i gotta go|gotta go|got to go|i need to go|hang up|good night|"
    r"(have to|gotta|got to|need to|must) run|catch you later|take care)\b"
)
_AFFIRM_ONLY = re.compile(
    r"^(yes|yeah|yea|yep|yup|ya|yah|sure|of course|absolutely|definitely|correct|right|that is right|"
    r"that is correct|exactly|ok|okay|o k|alright|all right|uh huh|mhm|mm hmm|affirmative|yes please|sure thing|"
    r"you bet|certainly|perfect|sounds good|sounds great|sounds perfect|that works|that works for me|works for me|"
    r"go ahead|please do|that is fine|fine|fine by me|i do|i would|i would love that|i would like that|let us do it|"
    r"let us do that|why not|that would be great|that would be good|good|great|yes it is|it is|that is it|"
    r"you got it|indeed|true|totally|for sure|i guess so|i think so|please|yes that is right|yes that is correct|"
    r"yes correct|yeah that is right|yeah that is correct|yes exactly|yes sure|yeah sure|sure why not|cool|cool cool|"
    r"i am in|count me in|deal|awesome|excellent|wonderful|lovely|brilliant|that is great|nice|that is perfect|"
    r"that is good|that sounds good|that sounds great|that is fine with me|fine with me)"
    r"( (please|thanks|thank you|yes|yeah|sure))*$"
)
_DENY_ONLY = re.compile(
    r"^(no|nope|nah|naw|no thanks|no thank you|not really|not now|not right now|not today|not at the moment|"
    r"negative|i do not think so|i would rather not|rather not|not interested|i am not interested|no way|"
    r"never mind|nevermind|that is wrong|that is not right|that is incorrect|wrong|incorrect|not quite|"
    r"no it is not|no that is not right|no that is wrong|i do not|i am good|i am fine|i am okay|i am all set|"
    r"all set|no i do not|not at all|absolutely not|definitely not|i do not want to|i do not have one|"
    r"i do not have (an|any) email|no not really|not yet|nothing|i will pass|pass|i am going to pass|i do not want "
    r"(that|it|to)|i am okay thanks)( (thanks|thank you|please|no))*$"
)
_LEADING_YES = re.compile(r"^(yes|yeah|yep|yup|sure|ok|okay|absolutely|definitely|correct|right|alright)\s+(.+)$")
_LEADING_NO = re.compile(r"^(no|nope|nah|no no|no thanks|no thank you)\s+(.+)$")
_QUESTION_TOPIC = re.compile(
    r"\b(how much|price|prices|pricing|cost|costs|fee|fees|tuition|expensive|cheap|afford|discount|payment|"
    r"payments|pay|installments?|instalments?|financing|financial aid|refund|online|in person|remote|remotely|"
    r"virtual|campus|certificate|certification|certified|accredited|accreditation|diploma|degree|duration|"
    r"how long|how many (weeks|months|hours|days|sessions|classes|people|students)|timetable|start date|"
    r"requirements?|prerequisites?|eligible|eligibility|qualify|curriculum|syllabus|job|jobs|placement|"
    r"scholarships?|deadline|weekends?|evenings?|part time|full time|class size|teachers?|instructors?|"
    r"language|english|credits?|when does (it|the course|the program|the class|the next) start|class|classes|course|"
    r"courses|program|programs|programme|bootcamp|located|location|address|next steps?|how does (it|this|that) work|"
    r"what happens next|schedule|apply|application|admission|admissions)\b"
)
_QUESTION_CUE = re.compile(
    r"^(how|what|when|where|which|who|why|is|are|do|does|can|could|will|would|should|did|any|tell me|i was "
    r"wondering|i am wondering|i wanted to know|i want to know|i would like to know|i have a question|quick question|"
    r"question)\b|\b(wondering|question about|information (about|on)|info (about|on)|details (about|on)|"
    r"tell me (more )?about)\b"
)


def _clean_for_rules(text: str) -> str:
    t = normalize(text)
    t = _FILLER_START.sub("", t).strip()
    return re.sub(r"\b(um+|uh+)\b", " ", t).replace("  ", " ").strip()


_SLOT_EXTRACTORS: dict[str, Callable[[str], object]] = {
    "email": extract_email,
    "phone": extract_phone,
    "name": extract_name,
}


# Words that may stand around a day or time in an answer ("tuesday afternoon works for me").
_TIME_ANSWER_WORDS = frozenset(
    "a about after afternoon am and any anytime around at available be before best better but by can could day do "
    "does early either else end evening fine first for free from good great how i ideally in is it just late later "
    "let like me might morning my next of ok okay on or perhaps pm prefer preferably probably say should so "
    "sometime suits that the then this time to today tomorrow tonight us we week weekend what whenever which "
    "would works work yes yeah maybe week's um uh o clock oclock noon lunch half quarter past its not no".split()
)


def _is_time_answer(t: str, now: datetime, tz: ZoneInfo) -> bool:
    """A day/time is named and little else is said (so "the weather is nice today" is not an answer)."""
    if parse_when(t, now, tz) is None:
        return False
    other = [
        w for w in t.split()
        if w not in _TIME_ANSWER_WORDS and w not in WEEKDAYS and w.rstrip("s") not in WEEKDAYS and w not in MONTHS
        and not re.fullmatch(r"\d+(:\d\d)?(st|nd|rd|th|am|pm)?|" + "|".join(UNITS | TEENS | TENS)
                             + "|" + "|".join(ORDINAL_UNITS), w)
    ]  # fmt: skip
    return len(other) <= 1


def _has_info(raw: str, now: datetime, tz: ZoneInfo) -> bool:
    """Does the text carry a value: e-mail, phone, a named day/time, or a spelling?"""
    return bool(
        extract_email(raw)
        or extract_phone(raw)
        or _is_time_answer(normalize(raw), now, tz)
        or len(extract_spelled(raw)) >= 2
        or re.search(r"\bmy (name|email|e-mail|e mail|number|phone number|last name|first name) is\b", raw.lower())
        or (_NAME_INTRO.search(normalize(raw)) is not None and extract_name(raw) is not None)
    )


_NAME_INTRO = re.compile(
    r"^(hi |hello )?(this is|my name is|name is|call me|you can call me) [a-z]|"
    r"^[a-z]+( [a-z]+)? (here|speaking)$"
)


# --------------------------------------------------------------------------- examples for the embedding match

EXAMPLES: dict[Intent, tuple[str, ...]] = {
    Intent.GREETING: ("hello", "hi there", "hey how are you", "good morning", "hello is anyone there"),
    Intent.GOODBYE: ("goodbye", "bye bye", "have a nice day", "talk to you later", "i have to go now"),
    Intent.AFFIRM: (
        "yes",
        "yeah that is right",
        "sure",
        "sounds good",
        "that works for me",
        "absolutely",
        "okay let us do that",
    ),
    Intent.DENY: ("no", "no thanks", "not really", "i do not think so", "i am not interested", "not at the moment"),
    Intent.BOOK_MEETING: (
        "i would like to book a meeting",
        "can i schedule an appointment",
        "i want to set up a call with an advisor",
        "can we meet next week",
        "i would like to talk to an advisor about the program",
        "i want to sign up for an information session",
        "when can i come in to discuss the course",
    ),
    Intent.RESCHEDULE: (
        "i need to reschedule my appointment",
        "can we move the meeting to another day",
        "i can not make it on tuesday can we change the time",
        "can i pick a different time for my appointment",
    ),
    Intent.CANCEL: (
        "i want to cancel my appointment",
        "please cancel the meeting",
        "i will not be able to make it so drop the appointment",
        "i no longer need the appointment",
    ),
    Intent.ASK_QUESTION: (
        "how much does the course cost",
        "is the program online",
        "do you offer a certificate",
        "how long does the program take",
        "can i pay in installments",
        "what are the requirements to join",
        "when does the next class start",
        "do i need any experience",
        "tell me more about the program",
        "what do you teach",
        "what kind of courses do you offer",
    ),
    Intent.TRANSFER_HUMAN: (
        "can i talk to a human",
        "i want to speak to a real person",
        "connect me to an agent please",
        "let me talk to a representative",
        "i do not want to talk to a machine",
    ),
    Intent.REPEAT: (
        "can you say that again",
        "sorry what",
        "i did not catch that",
        "what did you say",
        "i could not hear you",
    ),
    Intent.CORRECTION: (
        "no it is tuesday not thursday",
        "actually i meant three pm",
        "sorry i said jane not jean",
        "that is wrong it should be smith",
        "let me correct that",
    ),
    Intent.PROVIDE_INFO: (
        "my name is jane doe",
        "my email is john at gmail dot com",
        "my number is five five five one two three four",
        "tuesday afternoon works for me",
        "i am available on friday morning",
        "i work as a nurse in boston",
        "i am a software developer with two years of experience",
        "i work in finance",
        "i am a nurse",
        "i am currently a student",
    ),
    Intent.CALLBACK: (
        "can you call me back later",
        "i am busy right now can you call me later",
        "please ring me back in an hour",
        "is it possible to get a call back",
    ),
    Intent.THANKS: ("thank you", "thanks a lot", "thank you so much for your help", "i appreciate it"),
}
DEFAULT_THRESHOLD = 0.55
CONTEXT_BOOST = 0.06


class IntentClassifier:
    """Rules, then nearest example. ``encoder`` maps a list of texts to L2-normalised rows.

    Without an encoder (the model package missing) the rules still work and everything else is
    UNKNOWN: a caller is never cut off because the embedding model could not load.
    """

    def __init__(
        self,
        encoder: Callable[[list[str]], np.ndarray] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        examples: dict[Intent, tuple[str, ...]] | None = None,
        tz: ZoneInfo | None = None,
    ) -> None:
        self._encoder = encoder
        self.threshold = threshold
        self._examples = examples or EXAMPLES
        self._tz = tz or ZoneInfo("UTC")
        self._matrix: np.ndarray | None = None
        self._labels: list[Intent] = []
        self._lock = threading.Lock()
        self._encoder_failed = False

    # -- embedding side

    def _encode(self, texts: list[str]) -> np.ndarray | None:
        if self._encoder_failed:
            return None
        if self._encoder is None:
            from callbot.agents.nlu.embeddings import EncoderUnavailableError, get_encoder

            try:
                self._encoder = get_encoder().encode
            except EncoderUnavailableError as exc:
                logger.warning("intent matching falls back to rules only: %s", exc)
                self._encoder_failed = True
                return None
        return self._encoder(texts)

    def _example_matrix(self) -> np.ndarray | None:
        if self._matrix is None:
            with self._lock:
                if self._matrix is None:
                    labels = [intent for intent, phrases in self._examples.items() for _ in phrases]
                    texts = [phrase for phrases in self._examples.values() for phrase in phrases]
                    matrix = self._encode(texts)
                    if matrix is None:
                        return None
                    self._labels = labels
                    self._matrix = matrix
        return self._matrix

    def similarities(self, text: str) -> dict[Intent, float]:
        """Best cosine similarity per intent between ``text`` and that intent's examples."""
        matrix = self._example_matrix()
        if matrix is None or not text.strip():
            return {}
        vector = self._encode([text])
        if vector is None:
            return {}
        sims = matrix @ vector[0]
        best: dict[Intent, float] = {}
        for label, sim in zip(self._labels, sims.tolist(), strict=True):
            if sim > best.get(label, -1.0):
                best[label] = sim
        return best

    def warm_up(self) -> None:
        """Load the encoder and embed the examples now instead of on the first caller's turn."""
        self._example_matrix()

    # -- the decision

    def classify(self, text: str, context: str | None = None) -> IntentResult:
        t = _clean_for_rules(text)
        if not t:
            return IntentResult(Intent.UNKNOWN, 0.0, source="none")
        result = self._rules(text, t, context)
        if result is not None:
            return result
        return self._nearest(t, context)

    def _rules(self, raw: str, t: str, context: str | None) -> IntentResult | None:
        now = datetime.now(self._tz)
        if _GREETING_ONLY.match(t):
            return IntentResult(Intent.GREETING, 0.95)
        greeting = _GREETING_PREFIX.match(t)
        if greeting:
            rest = self.classify(t[greeting.end() :], context)
            if rest.intent is not Intent.UNKNOWN:
                return IntentResult(rest.intent, rest.confidence, ((Intent.GREETING, 0.5), *rest.alternatives),
                                    rest.source)  # fmt: skip
            return IntentResult(Intent.GREETING, 0.7, source="rule")
        if _REPEAT.search(t):
            return IntentResult(Intent.REPEAT, 0.95)
        if _TRANSFER.search(t) and not _BOOKING_WORDS.search(t):
            return IntentResult(Intent.TRANSFER_HUMAN, 0.95)
        if _CALLBACK.search(t):
            return IntentResult(Intent.CALLBACK, 0.9)
        if _CORRECTION.search(t):
            return IntentResult(Intent.CORRECTION, 0.9)
        leading_no = _LEADING_NO.match(t)
        if leading_no and not _DENY_ONLY.match(t):
            rest = self._rules(raw, leading_no.group(2), context)
            if rest is not None and rest.intent not in (Intent.AFFIRM, Intent.THANKS, Intent.PROVIDE_INFO):
                return IntentResult(rest.intent, rest.confidence, ((Intent.DENY, 0.6),), rest.source)
            if _has_info(leading_no.group(2), now, self._tz):
                return IntentResult(Intent.CORRECTION, 0.85, ((Intent.DENY, 0.6),))
            return IntentResult(Intent.DENY, 0.85)
        leading_yes = _LEADING_YES.match(t)
        if leading_yes and context in YES_NO_CONTEXTS:
            return IntentResult(Intent.AFFIRM, 0.9)
        if _RESCHEDULE.search(t):
            if context == "slot_choice":  # "a different time?" about the slots just offered: none of them
                return IntentResult(Intent.DENY, 0.8, ((Intent.RESCHEDULE, 0.6),), "context")
            return IntentResult(Intent.RESCHEDULE, 0.9)
        if _CANCEL.search(t):
            return IntentResult(Intent.CANCEL, 0.9)
        if _BOOK.search(t):
            return IntentResult(Intent.BOOK_MEETING, 0.9, ((Intent.PROVIDE_INFO, 0.5),) if _has_info(raw, now, self._tz)
                                else ())  # fmt: skip
        if _GOODBYE.search(t):
            return IntentResult(Intent.GOODBYE, 0.9)
        if _THANKS.match(t):
            return IntentResult(Intent.THANKS, 0.95)
        if _AFFIRM_ONLY.match(t):
            return IntentResult(Intent.AFFIRM, 0.95)
        if _DENY_ONLY.match(t):
            return IntentResult(Intent.DENY, 0.95)
        if leading_yes:
            rest = self.classify(leading_yes.group(2), context)
            if rest.intent not in (Intent.UNKNOWN, Intent.AFFIRM, Intent.THANKS, Intent.DENY):
                return IntentResult(rest.intent, rest.confidence, ((Intent.AFFIRM, 0.6),), rest.source)
            return IntentResult(Intent.AFFIRM, 0.85)
        if _ABOUT_ME.search(t):
            return IntentResult(Intent.PROVIDE_INFO, 0.8)
        asked = bool(_QUESTION_CUE.search(t)) or raw.rstrip().endswith("?")
        if (_QUESTION_TOPIC.search(t) and asked) or _TELL_ME.search(t):
            return IntentResult(Intent.ASK_QUESTION, 0.9)
        # What the bot asked decides short, vague answers.
        if context in YES_NO_CONTEXTS:
            answer = parse_yes_no(t)
            if answer is not None and len(t.split()) <= 6:
                return IntentResult(Intent.AFFIRM if answer else Intent.DENY, 0.85, source="context")
        if context in SLOT_CONTEXTS:
            if self._slot_answer(raw, context, now):
                return IntentResult(Intent.PROVIDE_INFO, 0.9, source="context")
        if _has_info(raw, now, self._tz):
            return IntentResult(Intent.PROVIDE_INFO, 0.85)
        return None

    def _slot_answer(self, raw: str, context: str, now: datetime) -> bool:
        if context in _SLOT_EXTRACTORS:
            return _SLOT_EXTRACTORS[context](raw) is not None or len(extract_spelled(raw)) >= 2
        if context == "slot_choice":
            return extract_ordinal(raw) is not None or parse_when(raw, now, self._tz) is not None
        return parse_when(raw, now, self._tz) is not None

    def _nearest(self, t: str, context: str | None) -> IntentResult:
        scores = self.similarities(t)
        if not scores:
            return IntentResult(Intent.UNKNOWN, 0.0, source="none")
        if context in YES_NO_CONTEXTS:
            for intent in (Intent.AFFIRM, Intent.DENY):
                scores[intent] = scores.get(intent, 0.0) + CONTEXT_BOOST
        elif context in SLOT_CONTEXTS:
            scores[Intent.PROVIDE_INFO] = scores.get(Intent.PROVIDE_INFO, 0.0) + CONTEXT_BOOST
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        alternatives = tuple((intent, round(score, 3)) for intent, score in ranked[1:4])
        best, score = ranked[0]
        if score < self.threshold:
            return IntentResult(Intent.UNKNOWN, round(score, 3), ((best, round(score, 3)), *alternatives), "embedding")
        return IntentResult(best, round(min(score, 1.0), 3), alternatives, "embedding")


_default: IntentClassifier | None = None
_default_lock = threading.Lock()


def get_classifier() -> IntentClassifier:
    """The process-wide classifier (examples embedded once, on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = IntentClassifier()
    return _default


def classify(text: str, context: str | None = None) -> IntentResult:
    """Intent of one caller turn; ``context`` is what the bot just asked (see the module docstring)."""
    return get_classifier().classify(text, context)
