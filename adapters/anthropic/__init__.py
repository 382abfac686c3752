"""Anthropic (Messages API) through the official `anthropic` SDK, imported lazily."""

from adapters.anthropic.adapter import AnthropicAdapter

__all__ = ["AnthropicAdapter"]
