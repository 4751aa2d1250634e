"""callbot: an inbound AI phone agent for sales prospects, over Twilio Media Streams."""

__version__ = "0.1.0"
