"""Credentials: the API-key store and the detectors for sessions held by providers' own tooling."""
