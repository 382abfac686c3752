"""Every type that crosses the daemon's HTTP boundary, as pydantic v2 models.

Nothing here does I/O or imports FastAPI: the shell, generated clients and the adapters all
speak these types. Requests are closed (`extra="forbid"`); events are unions discriminated on
`type`.
"""
