"""OpenAI (Responses API) through the official `openai` SDK, imported lazily."""

from adapters.openai.adapter import OpenAIAdapter

__all__ = ["OpenAIAdapter"]
