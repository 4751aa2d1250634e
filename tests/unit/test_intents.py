"""Intent classification on varied phrasings, including Whisper-style lower case without punctuation."""

from __future__ import annotations

import numpy as np
import pytest

from callbot.agents.nlu.embeddings import EncoderUnavailableError
from callbot.agents.nlu.intents import Intent, IntentClassifier, classify, get_classifier

I = Intent  # noqa: E741 - short alias for the tables

# (what the caller said, what the bot had asked, the intent)
CASES = [
    # greeting
    ("hello", None, I.GREETING),
    ("Hi there!", None, I.GREETING),
    ("good morning", None, I.GREETING),
    ("hiya", None, I.GREETING),
    ("hello? hello?", None, I.GREETING),
    ("hey good morning", None, I.GREETING),
    # goodbye
    ("bye", None, I.GOODBYE),
    ("ok thanks bye", None, I.GOODBYE),
    ("have a good one", None, I.GOODBYE),
    ("no thats all thanks", None, I.GOODBYE),
    ("alright i gotta run", None, I.GOODBYE),
    ("take care", None, I.GOODBYE),
    ("alright thats it goodbye", None, I.GOODBYE),
    # affirm
    ("yes", None, I.AFFIRM),
    ("Yeah, sure.", None, I.AFFIRM),
    ("yep that's correct", None, I.AFFIRM),
    ("okay", None, I.AFFIRM),
    ("um yeah", None, I.AFFIRM),
    ("sure why not", None, I.AFFIRM),
    ("that's perfect", None, I.AFFIRM),
    ("sure", "yes_no", I.AFFIRM),
    ("that works", "yes_no", I.AFFIRM),
    ("sounds good", "yes_no", I.AFFIRM),
    ("i guess that would be okay", "yes_no", I.AFFIRM),
    ("yeah go for it", "yes_no", I.AFFIRM),
    ("yes i'd like to book a meeting", "yes_no", I.AFFIRM),
    # deny
    ("no", None, I.DENY),
    ("uh no", None, I.DENY),
    ("no thank you", None, I.DENY),
    ("i don't think so", None, I.DENY),
    ("nah i'm good", None, I.DENY),
    ("absolutely not", None, I.DENY),
    ("nope", "yes_no", I.DENY),
    ("not really", "yes_no", I.DENY),
    ("i'd rather not", "yes_no", I.DENY),
    ("not at this time", "yes_no", I.DENY),
    # book a meeting
    ("i want to book a meeting", None, I.BOOK_MEETING),
    ("hi i would like to book a meeting", None, I.BOOK_MEETING),
    ("yes i'd like to book a meeting", None, I.BOOK_MEETING),
    ("can i schedule an appointment with an advisor", None, I.BOOK_MEETING),
    ("id like to set up a call", None, I.BOOK_MEETING),
    ("can we meet sometime next week", None, I.BOOK_MEETING),
    ("i want to make an appointment", None, I.BOOK_MEETING),
    ("I'd like to arrange a meeting with someone from admissions", None, I.BOOK_MEETING),
    ("i'd love to chat with one of your advisors", None, I.BOOK_MEETING),
    # reschedule
    ("i need to reschedule", None, I.RESCHEDULE),
    ("can we move my appointment to friday", None, I.RESCHEDULE),
    ("something came up and i can't make it thursday, can we do another day", None, I.RESCHEDULE),
    ("is it possible to move our call to thursday", None, I.RESCHEDULE),
    ("i'd like to postpone", None, I.RESCHEDULE),
    # cancel
    ("i want to cancel my appointment", None, I.CANCEL),
    ("please cancel the meeting", None, I.CANCEL),
    ("i won't need the appointment anymore", None, I.CANCEL),
    ("i cant make the meeting", None, I.CANCEL),
    ("i want to call off my appointment", None, I.CANCEL),
    # questions about the offer
    ("how much does it cost", None, I.ASK_QUESTION),
    ("whats the cost of the program", None, I.ASK_QUESTION),
    ("is the course online", None, I.ASK_QUESTION),
    ("Do you offer a certificate at the end?", None, I.ASK_QUESTION),
    ("how long is the program", None, I.ASK_QUESTION),
    ("can i pay monthly", None, I.ASK_QUESTION),
    ("what are the requirements", None, I.ASK_QUESTION),
    ("what time are the classes", None, I.ASK_QUESTION),
    ("what exactly do you guys teach", None, I.ASK_QUESTION),
    ("tell me about the bootcamp", None, I.ASK_QUESTION),
    ("do i need a degree to join", None, I.ASK_QUESTION),
    ("is it accredited", None, I.ASK_QUESTION),
    ("do you guys do night classes", None, I.ASK_QUESTION),
    ("how many weeks is the course", None, I.ASK_QUESTION),
    # transfer to a human
    ("can i talk to a human", None, I.TRANSFER_HUMAN),
    ("let me speak to a real person", None, I.TRANSFER_HUMAN),
    ("agent", None, I.TRANSFER_HUMAN),
    ("representative please", None, I.TRANSFER_HUMAN),
    ("transfer me please", None, I.TRANSFER_HUMAN),
    ("is there a person I can talk to", None, I.TRANSFER_HUMAN),
    ("no i want to talk to a person", "yes_no", I.TRANSFER_HUMAN),
    ("put me through to a real person", "email", I.TRANSFER_HUMAN),
    # repeat
    ("say that again", None, I.REPEAT),
    ("sorry?", None, I.REPEAT),
    ("what?", None, I.REPEAT),
    ("i didnt catch that", None, I.REPEAT),
    ("could you repeat that please", None, I.REPEAT),
    ("come again", None, I.REPEAT),
    ("you cut out", None, I.REPEAT),
    ("pardon?", "yes_no", I.REPEAT),
    # correction
    ("no its tuesday not thursday", None, I.CORRECTION),
    ("actually i meant three pm", None, I.CORRECTION),
    ("I meant Jane, not Jean", None, I.CORRECTION),
    ("no, it's smith with an i", None, I.CORRECTION),
    ("no my email is john at gmail dot com", None, I.CORRECTION),
    ("no wednesday", "confirm", I.CORRECTION),
    ("no the last name is smith", "confirm", I.CORRECTION),
    ("make it four instead", None, I.CORRECTION),
    ("scratch that", None, I.CORRECTION),
    # provide info
    ("my name is jane doe", None, I.PROVIDE_INFO),
    ("jane doe", "name", I.PROVIDE_INFO),
    ("it's john dot smith at gmail dot com", "email", I.PROVIDE_INFO),
    ("maria.lopeasetexample.com", "email", I.PROVIDE_INFO),
    ("my number is 555 123 4567", None, I.PROVIDE_INFO),
    ("two one two five five five oh one two three", "phone", I.PROVIDE_INFO),
    ("tuesday afternoon", None, I.PROVIDE_INFO),
    ("next tuesday would be best for me", None, I.PROVIDE_INFO),
    ("the second one", "slot_choice", I.PROVIDE_INFO),
    ("i work in marketing", None, I.PROVIDE_INFO),
    ("im an accountant", None, I.PROVIDE_INFO),
    ("j o h n", "name", I.PROVIDE_INFO),
    ("this is tom calling", None, I.PROVIDE_INFO),
    # callback
    ("call me back", None, I.CALLBACK),
    ("can you call me back tomorrow", None, I.CALLBACK),
    ("i'm driving right now, call me later", None, I.CALLBACK),
    ("give me a ring next week", None, I.CALLBACK),
    ("now is not a good time, could you call me another time", None, I.CALLBACK),
    ("i'm in a meeting right now", None, I.CALLBACK),
    # thanks
    ("thanks", None, I.THANKS),
    ("thank you so much", None, I.THANKS),
    ("great thanks", None, I.THANKS),
    ("I appreciate it", None, I.THANKS),
    ("thanks a bunch", None, I.THANKS),
    # nothing this bot does
    ("the weather is nice today", None, I.UNKNOWN),
    ("banana", None, I.UNKNOWN),
    ("purple monkey dishwasher", None, I.UNKNOWN),
    ("my cat is sleeping", None, I.UNKNOWN),
    ("", None, I.UNKNOWN),
]


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    instance = get_classifier()
    instance.warm_up()
    return instance


@pytest.mark.parametrize(("text", "context", "intent"), CASES, ids=[f"{c[0]!r}/{c[1]}" for c in CASES])
def test_intent(classifier: IntentClassifier, text: str, context: str | None, intent: Intent) -> None:
    result = classifier.classify(text, context)
    assert result.intent is intent, result
    assert 0.0 <= result.confidence <= 1.0


def test_module_level_classify_uses_the_shared_classifier(classifier: IntentClassifier) -> None:
    assert get_classifier() is classifier
    assert classify("can i talk to a human").intent is Intent.TRANSFER_HUMAN


def test_context_changes_what_a_vague_answer_means(classifier: IntentClassifier) -> None:
    assert classifier.classify("that works", "yes_no").intent is Intent.AFFIRM
    assert classifier.classify("the first one", "slot_choice").intent is Intent.PROVIDE_INFO
    assert classifier.classify("jane doe", "name").intent is Intent.PROVIDE_INFO
    # A different time, asked while slots are on offer, is "none of these", not a reschedule.
    assert classifier.classify("do you have a different time", "slot_choice").intent is Intent.DENY
    assert classifier.classify("do you have a different time").intent is Intent.RESCHEDULE


def test_embedding_results_carry_scored_alternatives(classifier: IntentClassifier) -> None:
    result = classifier.classify("i won't need the appointment anymore")
    assert result.source == "embedding"
    assert result.intent is Intent.CANCEL
    assert len(result.alternatives) == 3
    assert all(score <= result.confidence for _, score in result.alternatives)
    assert Intent.CANCEL not in [intent for intent, _ in result.alternatives]


def test_unknown_reports_the_best_guess_below_threshold(classifier: IntentClassifier) -> None:
    result = classifier.classify("purple monkey dishwasher")
    assert result.intent is Intent.UNKNOWN
    assert result.confidence < classifier.threshold
    assert result.alternatives and result.alternatives[0][1] == result.confidence


def test_greeting_in_front_of_a_request_keeps_the_request(classifier: IntentClassifier) -> None:
    result = classifier.classify("hello i need to cancel my appointment")
    assert result.intent is Intent.CANCEL
    assert (Intent.GREETING, 0.5) in result.alternatives


def test_similarity_uses_the_encoder(classifier: IntentClassifier) -> None:
    scores = classifier.similarities("i would like to speak with a real human being")
    assert max(scores, key=scores.__getitem__) is Intent.TRANSFER_HUMAN


def test_rules_still_work_without_the_model() -> None:
    def broken(texts: list[str]) -> np.ndarray:
        raise AssertionError("the encoder must not be called for rule hits")

    rules_only = IntentClassifier(encoder=broken)
    assert rules_only.classify("call me back tomorrow").intent is Intent.CALLBACK
    assert rules_only.classify("how much is it?").intent is Intent.ASK_QUESTION


def test_missing_model_falls_back_to_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    import callbot.agents.nlu.embeddings as embeddings

    def missing() -> None:
        raise EncoderUnavailableError("model package not installed")

    monkeypatch.setattr(embeddings, "get_encoder", missing)
    classifier = IntentClassifier()
    assert classifier.classify("i won't need the appointment anymore").intent is Intent.UNKNOWN
    assert classifier.classify("yes").intent is Intent.AFFIRM


def test_custom_examples_and_encoder() -> None:
    vectors = {"alpha": [1.0, 0.0], "beta": [0.0, 1.0], "mostly alpha": [0.8, 0.6]}

    def encoder(texts: list[str]) -> np.ndarray:
        return np.array([vectors[t] for t in texts], dtype=np.float32)

    classifier = IntentClassifier(
        encoder=encoder, examples={Intent.THANKS: ("alpha",), Intent.GOODBYE: ("beta",)}, threshold=0.7
    )
    result = classifier.classify("mostly alpha")
    assert result.intent is Intent.THANKS and result.confidence == pytest.approx(0.8)
    assert result.alternatives == ((Intent.GOODBYE, pytest.approx(0.6)),)
