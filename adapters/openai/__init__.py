"""OpenAI (Responses API) through the official `openai` SDK, imported lazily."""
