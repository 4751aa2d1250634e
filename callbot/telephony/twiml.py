"""TwiML answers for the voice webhook: connect the call to our media stream, or say sorry and hang up."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.twiml.voice_response import Connect, Hangup, Parameter, Say, Stream, VoiceResponse


def connect_stream_twiml(stream_url: str, parameters: Mapping[str, str]) -> str:
    """``<Connect><Stream url=...>`` with one ``<Parameter>`` per item (sent in the stream's start event)."""
    stream = Stream(url=stream_url)
    for name, value in parameters.items():
        stream.append(Parameter(name=name, value=value))
    connect = Connect()
    connect.append(stream)
    response = VoiceResponse()
    response.append(connect)
    return str(response)


def hangup_twiml(message: str | None) -> str:
    """``<Say>`` the message (when given), then ``<Hangup>``: for calls the bot cannot take."""
    response = VoiceResponse()
    if message:
        response.append(Say(message))
    response.append(Hangup())
    return str(response)


def dial_twiml(number: str) -> str:
    """Transfer the call: Twilio leaves the media stream and dials the number."""
    response = VoiceResponse()
    response.dial(number)
    return str(response)
