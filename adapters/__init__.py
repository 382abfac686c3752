"""Provider adapters: each translates the neutral contracts to one provider's SDK and back.

Nothing here imports FastAPI; SDKs are imported lazily inside each adapter.
"""
