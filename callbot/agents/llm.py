"""An optional language model behind the OpenAI-compatible chat completions API.

One small client covers OpenAI, Azure OpenAI, Ollama, vLLM and the llama.cpp server: they
all accept ``POST {base_url}/chat/completions``. The bot never *needs* it: every method
either returns in ``timeout`` seconds or raises ``LLMUnavailable``, and the caller then
says what the offline path (FAQ, templates, rule NLU) produced. After
``failure_threshold`` failures in a row the provider is skipped for ``cooldown_seconds``,
so a dead or slow endpoint costs one timeout, not one per turn of every call.

Nothing a caller said is logged here: logs carry the operation and the error type only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from callbot.errors import ExternalServiceError

__all__ = ["LLMProvider", "LLMUnavailable", "Message", "parse_json_object"]

logger = logging.getLogger("callbot.agents.llm")

Message = Mapping[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}

REPHRASE_PROMPT = (
    "You are the voice of {company} on a phone call with a prospective customer. "
    "Rewrite the assistant's draft reply so it sounds natural when spoken aloud: at most two short "
    "sentences, friendly and plain. Keep every fact, name, date, time, price, number, e-mail address "
    "and phone number exactly as written in the draft. Do not add facts, offers or questions that "
    "are not in the draft. Answer with the rewritten reply only: no quotes, no markdown, no lists."
)

UNDERSTAND_PROMPT = (
    "You interpret what a caller said on a sales phone call. The assistant is expecting: {expected}. "
    "Reply with one JSON object and nothing else, of the form "
    '{{"intent": "<short snake_case intent>", "slots": {{"<name>": "<value>"}}}}. '
    "Use intents such as answer, question, book_meeting, reschedule, not_interested, "
    "talk_to_human, goodbye, affirm, deny, repeat, unknown. Put values the caller gave "
    "(name, email, phone, date, time, program, ...) in slots, exactly as understood; "
    "use an empty object when there are none."
)

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


class LLMUnavailable(ExternalServiceError):
    """The language model did not give a usable answer in time: use the offline path."""


def _chat_url(base_url: str) -> str:
    """``{base_url}/chat/completions``, keeping a query string (Azure's ``?api-version=``)."""
    parts = urlsplit(base_url.strip())
    path = parts.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path += "/chat/completions"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _auth_headers(base_url: str, api_key: str) -> dict[str, str]:
    if not api_key:
        return {}
    host = urlsplit(base_url).hostname or ""
    if host.endswith((".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")):
        return {"api-key": api_key}  # Azure OpenAI's key header (Bearer there means an Entra ID token)
    return {"Authorization": f"Bearer {api_key}"}


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model's reply, tolerating code fences and chatter around it."""
    text = re.sub(r"```(?:json)?", "", text, flags=re.I)
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _normalise_understanding(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    intent = value.get("intent")
    slots = value.get("slots", {})
    if not isinstance(intent, str) or not intent.strip():
        return None
    if slots is None:
        slots = {}
    if not isinstance(slots, dict):
        return None
    clean_slots = {str(k): v for k, v in slots.items() if v not in (None, "", [], {})}
    return {**value, "intent": intent.strip().lower().replace(" ", "_"), "slots": clean_slots}


def _clean_reply(text: str) -> str:
    text = re.sub(r"[*_`#]+", "", text).strip()
    for left, right in (('"', '"'), ("'", "'"), ("“", "”")):
        if len(text) >= 2 and text.startswith(left) and text.endswith(right):
            text = text[1:-1].strip()
    return re.sub(r"\s+", " ", text)


def _digits_kept(draft: str, reply: str) -> bool:
    """Every number of the draft is in the reply, written the same way (ignoring thousands commas)."""
    found = {n.replace(",", "") for n in _NUMBER.findall(reply)}
    return all(n.replace(",", "") in found for n in _NUMBER.findall(draft))


class LLMProvider:
    """Client for one OpenAI-compatible endpoint; one instance is shared by every call."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "",
        model: str = "gpt-4o-mini",
        timeout: float = 2.0,
        temperature: float = 0.3,
        failure_threshold: int = 3,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("LLMProvider needs a base URL")
        self.url = _chat_url(base_url)
        self.model = model
        self.timeout = timeout
        self.temperature = temperature
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._headers = {"Content-Type": "application/json", **_auth_headers(base_url, api_key)}
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), limits=httpx.Limits(max_connections=20, max_keepalive_connections=10)
        )
        self._failures = 0
        self._open_until = 0.0

    @classmethod
    def from_settings(cls, settings: Any) -> LLMProvider | None:
        """The configured provider, or None when no ``llm_base_url`` is set (offline only)."""
        base_url = getattr(settings, "llm_base_url", "")
        if not base_url:
            return None
        return cls(
            base_url,
            api_key=settings.llm_api_key,
            model=settings.llm_model,
            timeout=settings.llm_timeout_seconds,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> LLMProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- circuit breaker ---------------------------------------------------------------

    @property
    def available(self) -> bool:
        """False while the circuit is open (recent failures): calls fail at once."""
        return self._clock() >= self._open_until

    def _check_circuit(self) -> None:
        if not self.available:
            raise LLMUnavailable("language model skipped after repeated failures")

    def _record_success(self) -> None:
        self._failures = 0
        self._open_until = 0.0

    def _record_failure(self, operation: str, exc: BaseException) -> None:
        self._failures += 1
        logger.warning("LLM %s failed (%s), %d in a row", operation, type(exc).__name__, self._failures)
        if self._failures >= self.failure_threshold:
            # Half-open after the cool-down: one more failure re-opens it at once.
            self._open_until = self._clock() + self.cooldown_seconds
            logger.warning("LLM skipped for %.0f s", self.cooldown_seconds)

    def _payload(self, messages: Sequence[Message], max_tokens: int, stream: bool,
                 temperature: float | None) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": self.temperature if temperature is None else temperature,
            "max_tokens": max_tokens,
            "stream": stream,
        }

    # --- the wire -------------------------------------------------------------------------

    async def complete_async(self, messages: Sequence[Message], max_tokens: int = 200, *,
                             temperature: float | None = None) -> str:
        """The model's reply to ``messages``; ``LLMUnavailable`` if none came in ``timeout`` seconds."""
        self._check_circuit()
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.post(
                    self.url, headers=self._headers, json=self._payload(messages, max_tokens, False, temperature)
                )
            _raise_for_status(response)
            content = _completion_content(response)
        except (TimeoutError, httpx.HTTPError, LLMUnavailable, ValueError) as exc:
            self._record_failure("completion", exc)
            raise _unavailable(exc) from exc
        self._record_success()
        return content

    async def stream_async(self, messages: Sequence[Message], max_tokens: int = 200, *,
                           temperature: float | None = None) -> AsyncIterator[str]:
        """The reply's text as it is generated (Server-Sent Events).

        ``timeout`` bounds the wait for the first piece and every gap between pieces. A failure
        after some text was yielded still raises ``LLMUnavailable``: the caller decides what to
        do with what it already has.
        """
        self._check_circuit()
        payload = self._payload(messages, max_tokens, True, temperature)
        try:
            async with asyncio.timeout(self.timeout):
                request = self._client.build_request("POST", self.url, headers=self._headers, json=payload)
                response = await self._client.send(request, stream=True)
        except (TimeoutError, httpx.HTTPError) as exc:
            self._record_failure("stream", exc)
            raise _unavailable(exc) from exc
        try:
            try:
                if response.status_code >= 300:
                    async with asyncio.timeout(self.timeout):
                        await response.aread()
                    _raise_for_status(response)
                if response.headers.get("content-type", "").startswith("application/json"):
                    # A server that ignores "stream": the whole reply at once.
                    async with asyncio.timeout(self.timeout):
                        await response.aread()
                    content = _completion_content(response)
                    self._record_success()
                    yield content
                    return
                lines = response.aiter_lines()
                finished = False
                while True:
                    async with asyncio.timeout(self.timeout):
                        line = await anext(lines, None)
                    if line is None:
                        break
                    piece, done = _parse_sse_line(line)
                    if done:
                        finished = True
                        break
                    if piece is None:
                        continue
                    if piece.finished:
                        finished = True
                    if piece.text:
                        self._record_success()
                        yield piece.text
                if not finished:
                    raise LLMUnavailable("stream ended before [DONE]")
                self._record_success()
            except (TimeoutError, httpx.HTTPError, LLMUnavailable, ValueError) as exc:
                self._record_failure("stream", exc)
                raise _unavailable(exc) from exc
        finally:
            await response.aclose()

    # --- what the conversation uses -------------------------------------------------------

    async def rephrase_async(self, draft: str, context: Mapping[str, Any] | None = None) -> str:
        """``draft`` reworded for the phone (≤ 2 sentences), every fact and number kept.

        A reply that drops or changes a number of the draft, or comes back empty, raises
        ``LLMUnavailable`` (without counting against the circuit): say the draft instead.
        """
        context = dict(context or {})
        company = str(context.pop("company", "") or "the company")
        lines = [f"Draft reply: {draft}"]
        if caller := context.pop("caller_said", None) or context.pop("last_user_text", None):
            lines.insert(0, f"The caller just said: {caller}")
        lines += [f"{key.replace('_', ' ')}: {value}" for key, value in context.items() if value not in (None, "")]
        messages = [
            {"role": "system", "content": REPHRASE_PROMPT.format(company=company)},
            {"role": "user", "content": "\n".join(lines)},
        ]
        reply = _clean_reply(await self.complete_async(messages, max_tokens=160))
        if not reply:
            raise LLMUnavailable("empty rephrasing")
        if not _digits_kept(draft, reply):
            raise LLMUnavailable("rephrasing changed a number of the draft")
        if len(reply) > max(2 * len(draft), len(draft) + 200):
            raise LLMUnavailable("rephrasing much longer than the draft")
        return reply

    async def understand_async(self, text: str, expected: str) -> dict[str, Any] | None:
        """``{"intent": str, "slots": dict, ...}`` for what the caller said, or None if the reply is not that.

        ``expected`` names what the bot just asked for ("an e-mail address", "a yes or no", ...).
        Transport failures raise ``LLMUnavailable``; an unparsable reply returns None.
        """
        messages = [
            {"role": "system", "content": UNDERSTAND_PROMPT.format(expected=expected or "anything")},
            {"role": "user", "content": text},
        ]
        reply = await self.complete_async(messages, max_tokens=200, temperature=0.0)
        return _normalise_understanding(parse_json_object(reply))


# --- wire format helpers -----------------------------------------------------------------------


class _Piece:
    __slots__ = ("finished", "text")

    def __init__(self, text: str, finished: bool) -> None:
        self.text = text
        self.finished = finished


def _unavailable(exc: BaseException) -> LLMUnavailable:
    if isinstance(exc, LLMUnavailable):
        return exc
    if isinstance(exc, TimeoutError):
        return LLMUnavailable("language model timed out")
    return LLMUnavailable(f"language model failed ({type(exc).__name__})")


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    if isinstance(error, dict):
        return str(error.get("code") or error.get("type") or "")
    return ""


def _raise_for_status(response: httpx.Response) -> None:
    if not response.is_success:
        detail = _error_message(response)
        suffix = f" ({detail})" if detail else ""
        raise LLMUnavailable(f"language model answered HTTP {response.status_code}{suffix}")


def _completion_content(response: httpx.Response) -> str:
    try:
        data = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LLMUnavailable("malformed completion") from exc
    if not isinstance(content, str) or not content.strip():
        raise LLMUnavailable("empty completion")
    return content.strip()


def _parse_sse_line(line: str) -> tuple[_Piece | None, bool]:
    """One line of the event stream → (text piece or None, stream done)."""
    if not line.startswith("data:"):
        return None, False  # blank separators, ": keep-alive" comments, "event:" / "id:" fields
    data = line[5:].strip()
    if data == "[DONE]":
        return None, True
    if not data:
        return None, False
    try:
        event = json.loads(data)
    except json.JSONDecodeError as exc:
        raise LLMUnavailable("malformed stream event") from exc
    if not isinstance(event, dict):
        raise LLMUnavailable("malformed stream event")
    if "error" in event:
        raise LLMUnavailable("language model reported an error mid-stream")
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise LLMUnavailable("malformed stream event")
    if not choices:
        return None, False  # e.g. a final usage-only chunk
    choice = choices[0]
    delta = choice.get("delta") or {}
    text = delta.get("content") if isinstance(delta, dict) else None
    return _Piece(text if isinstance(text, str) else "", bool(choice.get("finish_reason"))), False
