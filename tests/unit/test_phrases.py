"""The phrase registry: every key renders, fixed phrases are cacheable, errors are clear."""

from __future__ import annotations

import pytest

from callbot.agents.phrases import PHRASES, PhraseError, fixed_phrases, phrase, placeholders

REQUIRED_KEYS = {
    "greeting",
    "greeting_company",
    "anything_else",
    "goodbye",
    "still_there",
    "silence_goodbye",
    "trouble_hearing",
    "repeat_back",
    "error_goodbye",
    "max_duration_goodbye",
}


def test_required_keys_exist() -> None:
    assert REQUIRED_KEYS <= PHRASES["en"].keys()


def test_seed_sentences() -> None:
    assert phrase("still_there") == "Are you still there? How can I help you?"
    assert phrase("trouble_hearing") == "I'm having trouble hearing you. Could you repeat that?"
    assert phrase("error_goodbye") == (
        "I'm sorry, we're having technical trouble. Please call again later. Goodbye."
    )


@pytest.mark.parametrize("lang", sorted(PHRASES))
def test_every_key_renders(lang: str) -> None:
    for key, template in PHRASES[lang].items():
        values = {name: f"<{name}>" for name in placeholders(template)}
        text = phrase(key, lang, **values)
        assert text.strip(), key
        assert "{" not in text and "}" not in text, key
        for value in values.values():
            assert value in text


def test_templated_and_default_greeting() -> None:
    assert placeholders(PHRASES["en"]["greeting"]) == set()
    assert phrase("greeting_company", company="Acme Solar").startswith(
        "Hello, thanks for calling Acme Solar!"
    )
    assert phrase("repeat_back", text="a demo next week") == "I heard: a demo next week."


def test_fixed_phrases_excludes_templates_with_placeholders() -> None:
    fixed = fixed_phrases("en")
    assert phrase("greeting") in fixed
    assert phrase("still_there") in fixed
    assert phrase("goodbye") in fixed
    assert not any("{" in text for text in fixed)
    assert PHRASES["en"]["repeat_back"] not in fixed
    assert PHRASES["en"]["greeting_company"] not in fixed
    expected = {t for t in PHRASES["en"].values() if not placeholders(t)}
    assert set(fixed) == expected
    assert len(fixed) == len(set(fixed))


def test_missing_placeholder_value_raises_a_clear_error() -> None:
    with pytest.raises(PhraseError, match=r"repeat_back.*text"):
        phrase("repeat_back")


def test_unexpected_value_raises() -> None:
    with pytest.raises(PhraseError, match="compnay"):
        phrase("greeting_company", company="Acme", compnay="typo")


def test_unknown_key_and_language_raise() -> None:
    with pytest.raises(PhraseError, match="no_such_key"):
        phrase("no_such_key")
    with pytest.raises(PhraseError, match="xx"):
        phrase("greeting", lang="xx")
    with pytest.raises(PhraseError, match="xx"):
        fixed_phrases("xx")


def test_language_missing_a_key_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PHRASES, "fr", {"greeting": "Bonjour, merci de votre appel."})
    assert phrase("greeting", "fr") == "Bonjour, merci de votre appel."
    assert phrase("goodbye", "fr") == phrase("goodbye", "en")
    fixed = fixed_phrases("fr")
    assert "Bonjour, merci de votre appel." in fixed
    assert phrase("greeting", "en") not in fixed
