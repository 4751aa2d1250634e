"""The FAQ knowledge base: real MiniLM embeddings over markdown FAQ files, answers meant to be spoken."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from callbot.agents.knowledge import MAX_ANSWER_CHARS, KnowledgeBase, markdown_to_speech, shared_knowledge_base
from callbot.agents.nlu.embeddings import get_encoder

FAQ = {
    "pricing.md": """# Pricing and payment

## How much does the program cost?

The full program costs **$4,900**. You can pay upfront and get a 10% discount, or spread it out:

- 12 monthly installments of $425
- employer sponsorship, where we invoice your company directly
- a deferred plan: pay nothing until you start your first job

## Is there a refund policy?

Yes. If you withdraw within the first 14 days you get a full refund, no questions asked.
""",
    "format.md": """# Course format

## Is the course online or in person?

The course is **100% online**. Classes are live on [Zoom](https://zoom.us) with a small group of at most
20 students, and every session is recorded so you can watch it later. There is no campus to travel to.

## What equipment do I need?

A laptop with a webcam and a stable internet connection. We send you the `software list` before day one.
""",
    "schedule.md": """# Schedule

## When are the classes?

We run two tracks. The *full-time* track meets Monday to Friday, 9 am to 5 pm, for 12 weeks.
The *part-time* track is designed for people who work: classes are on Tuesday and Thursday
evenings from 6:30 pm to 9:30 pm, plus Saturday mornings, for 24 weeks.

## When does the next cohort start?

The next cohorts start on March 3 and May 12.
""",
    "about.md": """# About us

We are a career school founded in 2015 in Austin. More than 3,000 graduates work as
web developers today. Our advisors help you pick the right track.
""",
}

MARKDOWN_SYMBOLS = re.compile(r"[*_#`\[\]|>~]|\]\(|^\s*[-+] |\n")


class CountingEncoder:
    """The real encoder, counting how often it is asked (a question must cost one call)."""

    def __init__(self) -> None:
        self.inner = get_encoder()
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return self.inner.encode(texts)


def assert_speakable(text: str) -> None:
    assert text.strip() == text and text
    assert not MARKDOWN_SYMBOLS.search(text), f"markdown left in {text!r}"
    assert "http" not in text
    assert len(text) <= MAX_ANSWER_CHARS, f"{len(text)} characters: {text!r}"
    assert text[-1] in ".!?", text


@pytest.fixture(scope="module")
def encoder() -> CountingEncoder:
    return CountingEncoder()


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, encoder: CountingEncoder) -> KnowledgeBase:
    folder = tmp_path_factory.mktemp("faq")
    for name, text in FAQ.items():
        (folder / name).write_text(text)
    (folder / "notes.txt").write_text("How much does it cost? Nothing at all!")  # not markdown: ignored
    return KnowledgeBase.from_directory(folder, encoder=encoder)


@pytest.mark.parametrize(
    ("question", "source", "heading", "must_say"),
    [
        ("How much does it cost?", "pricing.md", "How much does the program cost?", "$4,900"),
        ("what's the price", "pricing.md", "How much does the program cost?", "$4,900"),
        ("can I pay monthly", "pricing.md", "How much does the program cost?", "12 monthly installments of $425"),
        ("is it online", "format.md", "Is the course online or in person?", "100% online"),
        ("can I study in the evenings", "schedule.md", "When are the classes?", "evenings from 6:30 pm to 9:30 pm"),
        ("can I get my money back", "pricing.md", "Is there a refund policy?", "full refund"),
        ("when does the next group start", "schedule.md", "When does the next cohort start?", "March 3"),
        ("do I need a laptop", "format.md", "What equipment do I need?", "laptop"),
    ],
)
def test_questions_find_the_right_section(
    kb: KnowledgeBase, question: str, source: str, heading: str, must_say: str
) -> None:
    hits = kb.search(question, k=3)
    assert [(hits[0].source, hits[0].heading)] == [(source, heading)]
    assert hits[0].score > hits[1].score >= hits[2].score
    answer = kb.answer(question)
    assert answer is not None
    assert (answer.source, answer.heading) == (source, heading)
    assert must_say in answer.text
    assert_speakable(answer.text)
    assert answer.text in answer.chunk_text or len(answer.chunk_text) > len(answer.text)


@pytest.mark.parametrize(
    "question", ["what's the weather on Mars", "who won the game last night", "tell me a joke", "do you sell pizza"]
)
def test_unrelated_questions_get_no_answer(kb: KnowledgeBase, question: str) -> None:
    assert kb.answer(question) is None


def test_one_question_costs_one_encoder_call(kb: KnowledgeBase, encoder: CountingEncoder) -> None:
    before = encoder.calls
    kb.answer("is it online")
    assert encoder.calls == before + 1
    kb.search("how much is it", k=2)
    assert encoder.calls == before + 2


def test_hits_carry_file_title_and_heading(kb: KnowledgeBase) -> None:
    hit = kb.search("is there a campus to travel to", k=1)[0]
    assert (hit.source, hit.title, hit.heading) == ("format.md", "Course format", "Is the course online or in person?")
    # the chunk text is the whole section, markdown stripped
    assert hit.text.startswith("The course is 100% online. Classes are live on Zoom with a small group")
    # text before any heading is a chunk under the file title
    about = kb.search("when was the school founded", k=1)[0]
    assert (about.source, about.heading) == ("about.md", "About us")


def test_answers_are_at_most_two_sentences(kb: KnowledgeBase) -> None:
    for question in ("how much does it cost", "can I study in the evenings", "is it online"):
        answer = kb.answer(question)
        assert answer is not None
        assert len(re.findall(r"[.!?](?:\s|$)", answer.text)) <= 2, answer.text


def test_lists_become_a_sentence() -> None:
    text = markdown_to_speech(
        "You can pay in three ways:\n\n- **upfront**\n- in monthly installments\n* through your employer\n"
    )
    assert text == "You can pay in three ways: upfront, in monthly installments, and through your employer."
    steps = markdown_to_speech("Steps:\n1. Call us.\n2. Pick a date.\n")
    assert steps == "Steps: Call us and Pick a date."


def test_markdown_is_stripped_for_speech() -> None:
    text = markdown_to_speech(
        "See [our site](https://example.com) or write to <info@example.com>. Price: `$10` & *no* fees\n\n"
        "| Plan | Price |\n|---|---|\n| Basic | $10 |\n\n> Quoted __note__"
    )
    assert text == "See our site or write to info@example.com. Price: $10 and no fees. Basic, $10. Quoted note."


def test_long_section_answers_are_shortened_for_the_phone(tmp_path: Path, encoder: CountingEncoder) -> None:
    long_sentence = ("Our refund policy covers many cases, including illness, a new job, a move to another city, "
                     "a family emergency, a change of heart during the first two weeks, a schedule conflict with "
                     "work, a technical problem on our side that we could not fix in time, and several more that "
                     "an advisor can explain to you in detail on a short call.")
    (tmp_path / "refunds.md").write_text(f"# Refunds\n\n## Can I get a refund?\n\n{long_sentence}\n")
    kb = KnowledgeBase.from_directory(tmp_path, encoder=encoder)
    answer = kb.answer("can I get a refund")
    assert answer is not None
    assert_speakable(answer.text)
    assert answer.text.startswith("Our refund policy covers many cases, including illness")


def test_empty_folder_answers_nothing_and_missing_folder_fails(tmp_path: Path, encoder: CountingEncoder) -> None:
    kb = KnowledgeBase.from_directory(tmp_path, encoder=encoder)
    assert len(kb) == 0
    assert kb.search("how much does it cost") == []
    assert kb.answer("how much does it cost") is None
    with pytest.raises(FileNotFoundError):
        KnowledgeBase.from_directory(tmp_path / "missing", encoder=encoder)


async def test_answer_async_runs_off_the_event_loop(kb: KnowledgeBase) -> None:
    answer = await kb.answer_async("is it online")
    assert answer is not None and answer.source == "format.md"


# --- the shipped demo profile's FAQ ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_kb() -> KnowledgeBase:
    from callbot.business.profile import load_profile

    profile = load_profile()
    assert profile.faq_dir is not None
    kb = shared_knowledge_base(profile.faq_dir)
    assert shared_knowledge_base(profile.faq_dir) is kb  # built once per process
    assert len(kb) == len(list(profile.faq_dir.glob("*.md")))
    return kb


@pytest.mark.parametrize(
    ("question", "source", "must_say"),
    [
        ("How much does it cost?", "pricing.md", "US dollars"),
        ("what's the price of the data analytics bootcamp", "pricing.md", "6,900"),
        ("is it online", "online-format.md", "online"),
        ("can I study in the evenings", "schedule.md", "evening"),
        ("can I pay in monthly installments", "payment-plans.md", "monthly payments"),
        ("can I get my money back", "refunds.md", "refund"),
        ("do I get a certificate at the end", "certificates.md", "certificate"),
        ("do I need a degree to join", "requirements.md", "No degree is needed"),
    ],
)
def test_demo_faq_answers(demo_kb: KnowledgeBase, question: str, source: str, must_say: str) -> None:
    answer = demo_kb.answer(question)
    assert answer is not None, question
    assert answer.source == source
    assert must_say in answer.text
    assert_speakable(answer.text)


@pytest.mark.parametrize("question", ["what's the weather on Mars", "who won the game last night", "tell me a joke"])
def test_demo_faq_does_not_answer_unrelated_questions(demo_kb: KnowledgeBase, question: str) -> None:
    assert demo_kb.answer(question) is None
