"""A local HTTP server that speaks OpenAI's chat completions wire format, for tests of the
optional language model: JSON and Server-Sent-Event replies, OpenAI's error bodies, bearer-key
checks, and the failures a real endpoint has (slow, 500/503, malformed output).

Each request's answer is fixed when it arrives (the next queued failure or reply, the delays in
force then), so a request that a client abandoned cannot later take what the next test queued;
``wait_idle`` lets a fixture wait until every request it caused has finished."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

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


@dataclass(frozen=True)
class _Answer:
    """How one request is answered, decided when it arrives."""

    status: int | None  # an error status (401, a queued failure, 400), or None for a completion
    content: str = DEFAULT_REPLY
    malformed: bool = False
    delay_seconds: float = 0.0
    chunk_delay_seconds: float = 0.0


@dataclass
class FakeOpenAI:
    """What the fake received, and how it should answer next (scripted by the test).

    The server thread and the test thread both use it: the queues and the in-flight count are
    guarded by ``_lock``, and a request takes its share of the script once, as it arrives.
    """

    api_key: str | None = None  # None: any key (or none) is accepted
    replies: list[str] = field(default_factory=list)  # one content per request, in order; then DEFAULT_REPLY
    failures: list[int] = field(default_factory=list)  # HTTP statuses for the next requests
    malformed: int = 0  # the next N requests get a body that is not the wire format
    delay_seconds: float = 0.0  # before the response starts (time to first byte)
    chunk_delay_seconds: float = 0.0  # between stream events
    requests: list[RecordedRequest] = field(default_factory=list)
    base_url: str = ""  # http://127.0.0.1:port/v1
    _lock: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _in_flight: int = field(default=0, repr=False)

    def reply(self, *contents: str) -> None:
        with self._lock:
            self.replies.extend(contents)

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self.failures.extend(statuses)

    def reset(self) -> None:
        with self._lock:
            self.replies.clear()
            self.failures.clear()
            self.requests.clear()
            self.malformed = 0
            self.delay_seconds = 0.0
            self.chunk_delay_seconds = 0.0

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled (streams included); False if ``timeout`` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout)

    def _request_started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def _request_finished(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()

    def _take_answer(self, request: RecordedRequest) -> _Answer:
        """Record ``request`` and take its answer from the script, atomically."""
        with self._lock:
            self.requests.append(request)
            delays = {"delay_seconds": self.delay_seconds, "chunk_delay_seconds": self.chunk_delay_seconds}
            authorization = request.headers.get("authorization")
            if self.api_key is not None and authorization != f"Bearer {self.api_key}":
                return _Answer(401, **delays)
            if self.failures:
                return _Answer(self.failures.pop(0), **delays)
            body = request.body
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
                return _Answer(400, **delays)
            content = self.replies.pop(0) if self.replies else DEFAULT_REPLY
            malformed = self.malformed > 0
            if malformed:
                self.malformed -= 1
            return _Answer(None, content, malformed, **delays)


class _CountInFlight:
    """ASGI middleware: tells the state when each HTTP request starts and when it is completely handled."""

    def __init__(self, app: ASGIApp, state: FakeOpenAI) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.state._request_started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.state._request_finished()


async def _sleep_unless_disconnected(request: Request, seconds: float) -> bool:
    """Sleep ``seconds``, as a slow server does; False at once if the client hangs up first."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.create_task(disconnected())
    try:
        done, _ = await asyncio.wait({watcher}, timeout=seconds)
    finally:
        watcher.cancel()
    return not done


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
        answer = state._take_answer(
            RecordedRequest(request.url.path, request.url.query, dict(request.headers), body)
        )
        if answer.delay_seconds and not await _sleep_unless_disconnected(request, answer.delay_seconds):
            return Response(status_code=499)  # nobody is listening any more
        if answer.status == 400:
            return openai_error(400, "'messages' and 'model' are required properties.")
        if answer.status is not None:
            return openai_error(answer.status)

        content = answer.content
        malformed = answer.malformed
        model = body["model"]
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

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
                if answer.chunk_delay_seconds:
                    await asyncio.sleep(answer.chunk_delay_seconds)
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

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ],
        middleware=[Middleware(_CountInFlight, state=state)],
    )


@contextmanager
def run_fake_openai(api_key: str | None = None) -> Iterator[FakeOpenAI]:
    """Serve the fake chat completions API on a free loopback port for the duration of the block."""
    state = FakeOpenAI(api_key=api_key)
    with serve_in_thread(build_fake_openai(state), "fake OpenAI server") as port:
        state.base_url = f"http://127.0.0.1:{port}/v1"
        yield state
