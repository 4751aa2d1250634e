"""One call's plumbing: Twilio events in, conversation turns, speech out, barge-in, hang-up.

``handle_event`` is called by the WebSocket receive loop and never waits on inference: it
runs VAD and turn detection inline (sub-millisecond) and hands finished turns to the call's
own task, which transcribes, asks the conversation for a reply and speaks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from callbot.agents.context import CTX_TRANSFER_TO
from callbot.agents.phrases import phrase
from callbot.agents.state import CallerInfo, NextAction
from callbot.audio.turn import TurnEvent
from callbot.errors import ManagerError
from callbot.managers.conversation import (
    AudioMetadata,
    ConversationResponse,
    InterruptionAction,
    InterruptionType,
)
from callbot.managers.incoming_audio import AudioConfig, AudioProcessingResult, IncomingAudioManager
from callbot.managers.outgoing_audio import OutgoingAudioManager, Utterance
from callbot.managers.performance import Stage, TurnTimings
from callbot.services import CallServices
from callbot.telephony.protocol import Dtmf, Mark, Media, Start, TwilioEvent
from callbot.telephony.twiml import dial_twiml

logger = logging.getLogger("callbot.call")

# A turn with no words but this much speech was noise or mumbling: ask again.
UNCLEAR_TURN_MS = 600
TICK_S = 0.1
T = TypeVar("T")


@dataclass
class Speculation:
    """A transcription started at a pause; it stands for the turn if no speech follows."""

    voiced_ms: float
    task: asyncio.Task[AudioProcessingResult]


@dataclass
class CallerTurn:
    audio: bytes
    voiced_ms: float
    last_speech_at: float  # monotonic
    ended_at: float  # monotonic: end of turn detected
    speculation: asyncio.Task[AudioProcessingResult] | None = None


@dataclass
class KeyPress:
    digit: str
    at: float  # monotonic


def _wall(monotonic_time: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=time.monotonic() - monotonic_time)


class CallSession:
    def __init__(self, services: CallServices, send_json: Callable[[str], Awaitable[None]],
                 close_socket: Callable[[], Awaitable[None]]) -> None:
        self.services = services
        settings = services.settings
        self.settings = settings
        self._send_lock = asyncio.Lock()
        self._send_json = send_json
        self._close_socket = close_socket
        self.incoming = IncomingAudioManager(AudioConfig.from_settings(settings), services.pool)
        self.outgoing = OutgoingAudioManager(self._send, services.pool, services.cache,
                                             send_ahead_ms=settings.send_ahead_ms)
        self.call_sid = ""
        self.stream_sid = ""
        self.call_id = ""  # call record id
        self.started = False
        self.ending = False
        self.end_reason: str | None = None  # set when the bot ends or hands off the call
        self.closed = False
        self.turn_index = 0
        self._turns: asyncio.Queue[CallerTurn | KeyPress] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[None] | None = None
        self._barged_in = False
        self._last_activity = time.monotonic()
        self._started_at = time.monotonic()
        self._conversation_started = False
        self._speculation: Speculation | None = None

    # --- events from the receive loop (fast, never blocking on inference) -------------------------
    async def handle_event(self, event: TwilioEvent) -> None:
        if isinstance(event, Media):
            if not self.started:
                self.services.perf.count_event("media_before_start")
                return
            self._on_media(event.payload)
        elif isinstance(event, Mark):
            self.outgoing.on_mark(event.name)
        elif isinstance(event, Start):
            if self.started:
                self.services.perf.count_event("duplicate_start")
                return
            self._on_start(event)
        elif isinstance(event, Dtmf):
            self.services.perf.count_event("dtmf")
            self._last_activity = time.monotonic()
            if self.started:
                self._turns.put_nowait(KeyPress(event.digit, time.monotonic()))

    def _on_start(self, event: Start) -> None:
        self.started = True
        self.stream_sid, self.call_sid = event.stream_sid, event.call_sid or event.stream_sid
        self.outgoing.stream_sid = event.stream_sid
        params = event.custom_parameters
        caller = CallerInfo(phone_number=params.get("caller", ""), called_number=params.get("called", ""),
                            call_sid=self.call_sid)
        self._caller = caller
        self._started_wall = datetime.now(UTC)
        self.services.active_calls.add(self.call_sid)
        self.services.perf.set_active_calls(len(self.services.active_calls))
        self.services.perf.count_event("calls_started")
        logger.info("call %s: stream started", self.call_sid)
        self._main = asyncio.create_task(self._run_call(caller), name=f"call-{self.call_sid}")

    def _on_media(self, audio: bytes) -> None:
        result = self.incoming.process_frame(audio)
        if result.event is TurnEvent.SPEECH_STARTED:
            self._barged_in = False
        if self.incoming.in_turn or result.event is not None:
            self._last_activity = time.monotonic()
        if (self.incoming.in_turn and not self._barged_in and self.outgoing.is_speaking
                and result.voiced_ms >= self.settings.barge_in_min_ms):
            self._barged_in = True
            self._spawn(self._barge_in())
        speculation = self._speculation
        if speculation is not None and result.voiced_ms != speculation.voiced_ms:
            speculation.task.cancel()  # the caller went on talking: the turn will be longer
            self._speculation = speculation = None
        if result.event is TurnEvent.PAUSE:
            if self.services.pool.has_idle_worker:
                task = self._spawn(self.incoming.transcribe_turn_async(result.turn_audio))
                self._speculation = Speculation(result.voiced_ms, task)
                self.services.perf.count_event("stt_speculation_started")
            else:
                self.services.perf.count_event("stt_speculation_skipped_busy")
        elif result.event is TurnEvent.END_OF_TURN:
            self._speculation = None
            self._turns.put_nowait(CallerTurn(result.turn_audio, result.voiced_ms, result.last_speech_at,
                                              time.monotonic(), speculation.task if speculation else None))

    # --- the call's own task ---------------------------------------------------------------------------
    async def _run_call(self, caller: CallerInfo) -> None:
        try:
            self.call_id = await self.services.records.start_call_async(
                self.call_sid, self.stream_sid, caller.phone_number, caller.called_number)
            self._conversation_started = True  # before the await: a hang-up during it still cleans up
            state = await self.services.conversations.start_conversation_async(self.call_sid, caller)
            await self._say(state["current_agent_response"])
            while not self.ending:
                try:
                    turn = await asyncio.wait_for(self._turns.get(), TICK_S)
                except TimeoutError:
                    await self._check_timers()
                    continue
                if isinstance(turn, KeyPress):
                    await self._handle_key_press(turn)
                else:
                    await self._handle_caller_turn(turn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("call %s: conversation failed (%s); ending politely", self.call_sid,
                         type(exc).__name__, exc_info=not isinstance(exc, ManagerError))
            with contextlib.suppress(Exception):
                await self._say(phrase("error_goodbye"))
            await self._end_call("error")

    async def _check_timers(self) -> None:
        now = time.monotonic()
        if now - self._started_at > self.settings.max_call_seconds:
            await self._say(phrase("max_duration_goodbye"))
            await self._end_call("max_duration")
            return
        quiet = not self.outgoing.is_speaking and not self.incoming.in_turn and self._turns.empty()
        if quiet and now - self._last_activity > self.settings.silence_prompt_seconds:
            self._last_activity = now
            await self._interruption(InterruptionType.LONG_SILENCE, end_reason="silence")

    async def _interruption(self, kind: InterruptionType, end_reason: str) -> None:
        """Silence or noise: say what the conversation says to it, and end the call if it says so."""
        response = await self.services.conversations.handle_conversation_interruption_async(self.call_sid, kind)
        if response.message:
            await self._say(response.message)
        if response.action == InterruptionAction.END_CALL:
            await self._end_call(end_reason)

    async def _transcribe(self, turn: CallerTurn) -> AudioProcessingResult:
        if turn.speculation is not None:
            with contextlib.suppress(ManagerError):  # it failed: transcribe the whole turn again
                result = await turn.speculation
                self.services.perf.count_event("stt_speculation_used")
                return result
        return await self.incoming.transcribe_turn_async(turn.audio)

    async def _handle_caller_turn(self, turn: CallerTurn) -> None:
        stt_started = time.monotonic()
        result = await self._transcribe(turn)
        stt_ms = (time.monotonic() - stt_started) * 1000  # what the caller waits for, after the turn ended
        text = result.transcribed_text.strip()
        if not text:
            if turn.voiced_ms >= UNCLEAR_TURN_MS:
                await self._interruption(InterruptionType.BACKGROUND_NOISE, end_reason="misunderstood")
            return
        # The turn's audio ends when the turn was detected (after the end-of-turn silence), not at the
        # last speech frame: measured from there, its start is where the caller began (give or take
        # the pre-roll kept from before speech was detected).
        await self.services.records.add_turn_async(
            self.call_id, "caller", text, _wall(turn.ended_at - result.audio_duration_ms / 1000),
            _wall(turn.last_speech_at), confidence=result.confidence)
        if self.outgoing.is_speaking:  # a short answer under the bot's reply: it has been answered
            await self._cut_reply()
        agent_started = time.monotonic()
        response = await self.services.conversations.handle_conversation_turn_async(
            self.call_sid, text, AudioMetadata(confidence=result.confidence,
                                               audio_duration_ms=result.audio_duration_ms, is_final=True))
        agent_ms = (time.monotonic() - agent_started) * 1000
        stages = {Stage.END_OF_TURN: (turn.ended_at - turn.last_speech_at) * 1000, Stage.STT: stt_ms,
                  Stage.AGENT: agent_ms}
        await self._say(response.agent_response, turn.last_speech_at, stages)
        await self._act_on(response)

    async def _handle_key_press(self, press: KeyPress) -> None:
        """A key the caller pressed (the fallback for slots and yes/no): like a short spoken answer."""
        logger.info("call %s: key pressed", self.call_sid)
        await self.services.records.add_turn_async(self.call_id, "caller", f"(pressed {press.digit})",
                                                   _wall(press.at), _wall(press.at))
        if self.outgoing.is_speaking:
            await self._cut_reply()
        try:
            response = await self.services.conversations.handle_dtmf_async(self.call_sid, press.digit)
        except ManagerError:
            logger.warning("call %s: key press not understood", self.call_sid)
            return
        await self._say(response.agent_response)
        await self._act_on(response)

    async def _act_on(self, response: ConversationResponse) -> None:
        if response.next_action == NextAction.END_CALL:
            await self._end_call("bot_ended")
        elif response.next_action == NextAction.TRANSFER:
            state = await self.services.conversations.get_conversation_state_async(self.call_sid)
            await self._transfer(state["agent_context"].get(CTX_TRANSFER_TO, ""))

    async def _transfer(self, number: str) -> None:
        """Put the caller through to a person: once the bot's words are heard, Twilio dials the
        number and leaves this stream (a `stop` follows). If that fails the call goes on."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await self.outgoing.wait_until_heard_async()
        control = self.services.call_control
        if number and control.is_configured and self.call_sid:
            try:
                await control.update_twiml(self.call_sid, dial_twiml(number))
                self.ending, self.end_reason = True, "transferred"
                logger.info("call %s: transferred to a person", self.call_sid)
                return
            except ManagerError:
                logger.warning("call %s: transfer through Twilio failed", self.call_sid)
        await self._say(phrase("transfer_failed"))

    # --- speaking -------------------------------------------------------------------------------------
    async def _say(self, text: str, last_speech_at: float | None = None,
                   stages: dict[Stage, float] | None = None) -> Utterance | None:
        if not text.strip():
            return None
        utterance = await self.outgoing.generate_and_send_response_async(text)
        self._spawn(self._follow_utterance(utterance, last_speech_at, stages or {}))
        return utterance

    async def _follow_utterance(self, utterance: Utterance, last_speech_at: float | None,
                                stages: dict[Stage, float]) -> None:
        """Once the reply is out: record its latency, and once heard (or cut), its turn."""
        await utterance.on_air.wait()
        latency_ms = None
        if utterance.started and last_speech_at is not None:
            latency_ms = (utterance.started - last_speech_at) * 1000
            stages[Stage.TTS_FIRST_AUDIO] = utterance.first_audio_ms or 0.0
            stages[Stage.FIRST_FRAME_SENT] = utterance.first_frame_ms or 0.0
            stages[Stage.TOTAL] = latency_ms
            self.turn_index += 1
            await self.services.perf.record_turn_async(TurnTimings(self.call_sid, self.turn_index, stages))
        started = _wall(utterance.started) if utterance.started else datetime.now(UTC)
        await utterance.done.wait()
        if utterance.interrupted:
            return  # recorded by the barge-in with what was heard
        self._last_activity = time.monotonic()
        await self.services.records.add_turn_async(self.call_id, "bot", utterance.text, started,
                                                   datetime.now(UTC), latency_ms=latency_ms)

    async def _barge_in(self) -> None:
        if await self._cut_reply():
            self.services.perf.count_event("barge_in")
            logger.info("call %s: caller barged in; bot stopped", self.call_sid)

    async def _cut_reply(self) -> bool:
        """Stop the reply in play; the transcript and the conversation keep what was heard."""
        utterance = self.outgoing.current
        heard = await self.outgoing.interrupt_async()
        if heard is None or utterance is None:
            return False
        await self.services.conversations.record_bot_heard_async(self.call_sid, heard)
        started = _wall(utterance.started) if utterance.started else datetime.now(UTC)
        await self.services.records.add_turn_async(self.call_id, "bot", heard, started, datetime.now(UTC),
                                                   interrupted=True)
        return True

    async def _send(self, message: str) -> None:
        async with self._send_lock:  # media, marks and clear come from several tasks
            await self._send_json(message)

    def _spawn(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task of this call: cancelled when the call closes, its failure logged."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("call %s: background step failed: %s", self.call_sid,
                         type(task.exception()).__name__)

    # --- ending ---------------------------------------------------------------------------------------
    async def _end_call(self, reason: str) -> None:
        """The bot ends the call: finish speaking, hang up through Twilio, close the stream."""
        if self.ending:
            return
        self.ending = True
        self.end_reason = reason
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await self.outgoing.wait_until_heard_async()
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        if pending:  # let the last reply's turn reach the record before the stream closes
            await asyncio.wait(pending, timeout=2)
        control = self.services.call_control
        if control.is_configured and self.call_sid:
            try:
                await control.hang_up(self.call_sid)
            except ManagerError:
                logger.warning("call %s: hang-up through Twilio failed; closing the stream", self.call_sid)
        with contextlib.suppress(Exception):
            await self._close_socket()

    async def close_async(self, reason: str = "caller_hung_up") -> None:
        """Release everything this call holds; keep its record and transcript."""
        if self.closed:
            return
        self.closed = True
        reason = self.end_reason or reason
        current = asyncio.current_task()
        tasks = [t for t in (self._main, *self._tasks) if t is not None and t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        cut_off = self.outgoing.current
        heard = await self.outgoing.interrupt_async(send_clear=False)  # the caller left mid-sentence
        await self.outgoing.close_async()
        await self.incoming.cleanup_audio_resources_async()
        if not self.started:
            return
        if not self.call_id:
            # The caller left before the call's record was written (its write was cancelled above):
            # every call that started still gets a record. An already stored sid keeps its row.
            try:
                self.call_id = await self.services.records.start_call_async(
                    self.call_sid, self.stream_sid, self._caller.phone_number, self._caller.called_number,
                    started_at=self._started_wall)
            except Exception as exc:
                logger.error("call %s: could not create the call record (%s)", self.call_sid,
                             type(exc).__name__)
        if heard and cut_off is not None and self.call_id:
            # The transcript keeps what the caller heard of the reply the hang-up cut off.
            started = _wall(cut_off.started) if cut_off.started else datetime.now(UTC)
            try:
                await self.services.records.add_turn_async(self.call_id, "bot", heard, started,
                                                           datetime.now(UTC), interrupted=True)
            except Exception as exc:
                logger.error("call %s: could not record the last bot turn (%s)", self.call_sid,
                             type(exc).__name__)
        outcome, summary = None, None
        if self._conversation_started:
            try:
                ended = await self.services.conversations.end_conversation_async(self.call_sid, reason)
                outcome, summary = ended.outcome, ended.model_dump(mode="json", exclude={"transcript"})
            except ManagerError:
                logger.warning("call %s: conversation summary failed", self.call_sid)
        if self.call_id:
            try:
                await self.services.records.end_call_async(self.call_id, reason, outcome=outcome, summary=summary)
            except Exception as exc:
                logger.error("call %s: could not close the call record (%s)", self.call_sid, type(exc).__name__)
        self.services.active_calls.discard(self.call_sid)
        self.services.perf.set_active_calls(len(self.services.active_calls))
        self.services.perf.count_event("calls_ended")
        logger.info("call %s: ended (%s)", self.call_sid, reason)
