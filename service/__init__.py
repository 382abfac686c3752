"""The Kata Providers daemon: app factory, routes, security, runtime and CLI."""

__version__ = "0.1.0"
