"""The `anthropic-version` values: the one the installed SDK sends, and every one the API takes
(the fake takes the same, the OpenAPI document states them on the compatible routes)."""

from __future__ import annotations

# The API version the installed SDK sends (anthropic._constants.ANTHROPIC_API_VERSION).
API_VERSION = "2026-10-21"
API_VERSIONS = (API_VERSION, "2023-06-01", "2023-01-01")
