"""Fake upstreams that speak the providers' real wire protocols over loopback.

They are product code: `kata-providers serve --demo` runs them, and the tests drive the real
SDKs against them. Each provider's fake lives beside its adapter; this package holds the HTTP
server and the scenario controls they share.
"""
