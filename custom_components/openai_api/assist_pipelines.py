"""A ready Assist pipeline per voice profile: its speech-to-text, agent and text-to-speech."""

from __future__ import annotations

from homeassistant.components import assist_pipeline
from homeassistant.const import MATCH_ALL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.storage import Store

from .const import DOMAIN, LOGGER
from .models import OpenAIConfigEntry
from .realtime.profile import VoiceProfile

STORAGE_VERSION = 1
STORAGE_KEY = f"{DOMAIN}.pipelines"  # profile id -> the pipeline made for it (made once)


def _engines(hass: HomeAssistant, profile_id: str) -> tuple[str, str, str]:
    """Return the entity ids of the profile's speech-to-text, agent and text-to-speech."""
    reg = er.async_get(hass)
    ids = [
        reg.async_get_entity_id(domain, DOMAIN, f"{profile_id}_{domain}")
        for domain in ("stt", "conversation", "tts")
    ]
    if None in ids:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="pipeline_entities_missing",
            translation_placeholders={"profile": profile_id},
        )
    stt, agent, tts = ids
    return str(stt), str(agent), str(tts)


async def async_create_pipeline(hass: HomeAssistant, profile: VoiceProfile) -> str:
    """Create an Assist pipeline named after the profile with its three entities; its id."""
    stt, agent, tts = _engines(hass, profile.profile_id)
    pipeline = await assist_pipeline.async_create_default_pipeline(
        hass, stt_engine_id=stt, tts_engine_id=tts, pipeline_name=profile.title
    )
    if pipeline is None:  # HA found no language both engines speak
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="pipeline_language",
            translation_placeholders={"language": hass.config.language},
        )
    await assist_pipeline.async_update_pipeline(
        hass,
        pipeline,
        conversation_engine=agent,
        conversation_language=MATCH_ALL,
        tts_voice=profile.voice,
    )
    return pipeline.id


async def async_make_pending_pipelines(hass: HomeAssistant, entry: OpenAIConfigEntry) -> None:
    """Make the pipeline of each profile that asked for one and has never had it."""
    store: Store[dict[str, str]] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
    made = await store.async_load() or {}
    pending = [
        VoiceProfile.from_subentry(sub)
        for sub in entry.subentries.values()
        if sub.subentry_id not in made and VoiceProfile.from_subentry(sub).wants_pipeline
    ]
    for profile in pending:
        try:
            made[profile.profile_id] = await async_create_pipeline(hass, profile)
        except HomeAssistantError as err:
            LOGGER.warning("No Assist pipeline for %s: %s", profile.title, err)
    if pending:
        await store.async_save(made)
