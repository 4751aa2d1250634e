"""The process-wide engines and stores every call shares, built once at start-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from callbot.agents.graph import AgentGraph
from callbot.agents.knowledge import KnowledgeBase, shared_knowledge_base
from callbot.agents.llm import LLMProvider
from callbot.agents.nlu import EncoderUnavailableError, get_classifier
from callbot.agents.phrases import fixed_phrases
from callbot.audio.cache import PreGeneratedAudioCache
from callbot.audio.inference import EngineConfig, InferencePool
from callbot.audio.speakable import split_sentences, to_speakable
from callbot.business.profile import BusinessProfile, load_profile
from callbot.clock import make_clock
from callbot.config import Settings
from callbot.integrations.calendar.local import LocalCalendarProvider
from callbot.integrations.crm.local import LocalCRMProvider
from callbot.integrations.crm.outbox import CRMOutbox
from callbot.managers.calendar import CalendarManager
from callbot.managers.conversation import ConversationConfig, ConversationManager
from callbot.managers.crm import CRMManager
from callbot.managers.performance import PerformanceManager
from callbot.managers.state import StateManager
from callbot.storage.records import CallRecordStore
from callbot.storage.state import build_storage_backend
from callbot.telephony.call_control import TwilioCallControl

logger = logging.getLogger("callbot.services")


@dataclass
class CallServices:
    settings: Settings
    pool: InferencePool
    cache: PreGeneratedAudioCache
    conversations: ConversationManager
    records: CallRecordStore
    perf: PerformanceManager
    call_control: TwilioCallControl
    profile: BusinessProfile
    calendar: CalendarManager
    crm: CRMManager
    llm: LLMProvider | None = None
    knowledge: KnowledgeBase | None = None  # built at start: embedding the FAQ takes a moment
    active_calls: set[str] = field(default_factory=set)
    ready: bool = False

    @classmethod
    def create(cls, settings: Settings) -> CallServices:
        """Build everything; nothing starts until ``start_async``."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        records = CallRecordStore(settings.resolved_database_url)
        profile = load_profile(settings.business_profile)
        clock = make_clock(settings.clock_start)
        llm = LLMProvider.from_settings(settings)
        crm_provider = LocalCRMProvider(settings.resolved_crm_database_url)
        crm = CRMManager(crm_provider, CRMOutbox(settings.resolved_crm_database_url, crm_provider))
        calendar = CalendarManager(profile, LocalCalendarProvider(settings.resolved_calendar_database_url), now=clock)
        conversation_config = ConversationConfig(max_silence_prompts=settings.max_silence_prompts,
                                                 company_name=profile.company_name)
        agent_config = replace(conversation_config.agent_config(), profile=profile, calendar=calendar, crm=crm,
                               llm=llm, now=clock)
        conversations = ConversationManager(conversation_config, StateManager(build_storage_backend(settings)),
                                            AgentGraph(agent_config), crm=crm)
        return cls(
            settings=settings,
            pool=InferencePool(EngineConfig.from_settings(settings), settings.inference_workers),
            cache=PreGeneratedAudioCache(settings.resolved_audio_cache_dir),
            conversations=conversations, records=records, perf=PerformanceManager(),
            call_control=TwilioCallControl.from_settings(settings), profile=profile,
            calendar=calendar, crm=crm, llm=llm,
        )

    async def start_async(self) -> None:
        """Open the stores, warm the engines and fill the phrase cache: the first call is as fast as any."""
        await self.records.init_async()
        await self.calendar.provider.init_async()
        await self.crm.provider.init_async()
        if self.crm.outbox is not None:
            await self.crm.outbox.init_async()
            self.crm.outbox.start()
        try:
            if self.profile.faq_dir is not None:
                self.knowledge = await asyncio.to_thread(shared_knowledge_base, self.profile.faq_dir)
                self.conversations.agent_graph.config.knowledge = self.knowledge
            await asyncio.to_thread(get_classifier().warm_up)  # embeds the intent examples once
        except EncoderUnavailableError as exc:  # calls still work: rules only, no FAQ answers
            logger.error("sentence embeddings unavailable, FAQ answers are off: %s", exc)
        await self.pool.warm_up_async()
        await pregenerate_phrases_async(self.pool, self.cache, company=self.profile.company_name)
        self.ready = True

    async def close_async(self) -> None:
        self.pool.close()
        await self.call_control.aclose()
        if self.llm is not None:
            await self.llm.aclose()
        if self.crm.outbox is not None:
            await self.crm.outbox.close_async()
        await self.crm.provider.close_async()
        await self.calendar.provider.close_async()
        await self.records.close_async()


def phrase_sentences(company: str | None = None) -> list[str]:
    """Every fixed sentence the bot says, as the speaker will look it up in the cache."""
    sentences: list[str] = []
    for text in fixed_phrases(**({"company": company} if company else {})):
        for sentence in split_sentences(text):
            speakable = to_speakable(sentence)
            if speakable not in sentences:
                sentences.append(speakable)
    return sentences


async def pregenerate_phrases_async(pool: InferencePool, cache: PreGeneratedAudioCache,
                                    progress: Callable[[], None] | None = None, company: str | None = None) -> int:
    """Synthesize every fixed sentence missing from the cache; returns how many were made."""
    missing = [s for s in phrase_sentences(company) if not cache.contains(s, pool.voice)]
    for sentence in missing:
        result = await pool.synthesize_async(sentence)
        await cache.cache_audio_async(sentence, result.audio, result.duration_ms, result.voice)
        if progress is not None:
            progress()
    if missing:
        logger.info("pre-generated %d phrase sentences for voice %s", len(missing), pool.voice)
    return len(missing)
