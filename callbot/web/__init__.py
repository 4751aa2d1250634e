"""HTTP endpoints served next to the telephony webhooks: health and metrics."""
