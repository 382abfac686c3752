"""Providers: the provider book, the auth resolver, credentials (keys and sessions), health,
model lists and settings."""
