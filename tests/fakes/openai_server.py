"""A local HTTP server that speaks OpenAI's chat completions wire format, for tests of the
optional language model: JSON and Server-Sent-Event replies, OpenAI's error bodies, bearer-key
checks, and the failures a real endpoint has (slow, 500/503, malformed output)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.local_server import serve_in_thread

API_KEY = "sk-test-0123456789abcdef"
DEFAULT_REPLY = "Hello from the fake model."

_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
          "invalid_request_error", "invalid_api_key"),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def openai_error(status: int, message: str | None = None) -> JSONResponse:
    default_message, kind, code = _ERRORS.get(status, ("Error.", "server_error", None))
    body = {"error": {"message": message or default_message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


@dataclass
class RecordedRequest:
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    """What the fake received, and how it should answer next (scripted by the test)."""

    api_key: str | None = None  # None: any key (or none) is accepted
    replies: list[str] = field(default_factory=list)  # one content per request, in order; then DEFAULT_REPLY
    failures: list[int] = field(default_factory=list)  # HTTP statuses for the next requests
    malformed: int = 0  # the next N requests get a body that is not the wire format
    delay_seconds: float = 0.0  # before the response starts (time to first byte)
    chunk_delay_seconds: float = 0.0  # between stream events
    requests: list[RecordedRequest] = field(default_factory=list)
    base_url: str = ""  # http://127.0.0.1:port/v1

    def reply(self, *contents: str) -> None:
        self.replies.extend(contents)

    def fail_next(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    def reset(self) -> None:
        self.replies.clear()
        self.failures.clear()
        self.requests.clear()
        self.malformed = 0
        self.delay_seconds = 0.0
        self.chunk_delay_seconds = 0.0


def _words(content: str) -> list[str]:
    """Split a reply into stream pieces the way tokens arrive: words with their leading space."""
    pieces: list[str] = []
    for index, word in enumerate(content.split(" ")):
        pieces.append(word if index == 0 else f" {word}")
    return [piece for piece in pieces if piece]


def build_fake_openai(state: FakeOpenAI) -> Starlette:
    async def chat_completions(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = {}
        state.requests.append(RecordedRequest(request.url.path, request.url.query, dict(request.headers), body))
        if state.delay_seconds:
            await asyncio.sleep(state.delay_seconds)
        if state.api_key is not None and request.headers.get("authorization") != f"Bearer {state.api_key}":
            return openai_error(401)
        if state.failures:
            return openai_error(state.failures.pop(0))
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
            return openai_error(400, "'messages' and 'model' are required properties.")

        content = state.replies.pop(0) if state.replies else DEFAULT_REPLY
        model = body["model"]
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        malformed = state.malformed > 0
        if malformed:
            state.malformed -= 1

        if not body.get("stream"):
            if malformed:
                return Response('{"id": "chatcmpl-broken", "choices": [', media_type="application/json")
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
            completion_tokens = len(content.split())
            return JSONResponse({
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": "stop",
                }],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens},
            })

        def event(delta: dict[str, str], finish_reason: str | None) -> str:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            return f"data: {json.dumps(chunk)}\n\n"

        async def events() -> AsyncIterator[str]:
            yield event({"role": "assistant", "content": ""}, None)
            for index, piece in enumerate(_words(content)):
                if state.chunk_delay_seconds:
                    await asyncio.sleep(state.chunk_delay_seconds)
                if malformed and index == 1:
                    yield 'data: {"id": "chatcmpl-broken", "choices": [{"delta": \n\n'
                    return
                yield event({"content": piece}, None)
            yield event({}, "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model", "created": 0,
                                                         "owned_by": "callbot-tests"}]})

    return Starlette(routes=[
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ])


@contextmanager
def run_fake_openai(api_key: str | None = None) -> Iterator[FakeOpenAI]:
    """Serve the fake chat completions API on a free loopback port for the duration of the block."""
    state = FakeOpenAI(api_key=api_key)
    with serve_in_thread(build_fake_openai(state), "fake OpenAI server") as port:
        state.base_url = f"http://127.0.0.1:{port}/v1"
        yield state
