"""Who may use the daemon: the token, and the Hosts and Origins derived from where it is bound."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from service.process.config import DaemonConfig, is_loopback


@dataclass(frozen=True)
class AccessPolicy:
    """Who may talk to this daemon: built once from the config and the bound port."""

    token: bytes
    hosts: frozenset[str]
    origins: frozenset[str]
    loopback_only: bool
    max_body: int

    @classmethod
    def from_config(cls, config: DaemonConfig) -> AccessPolicy:
        """Derive the allowed Hosts and Origins from where the daemon is bound."""
        port = config.port
        names = {config.host.lower()} if not is_loopback(config.host) else set()
        if config.host in ("127.0.0.1", "localhost") or not is_loopback(config.host):
            names |= {"127.0.0.1", "localhost"}
        if config.host in ("::1", "localhost"):
            names |= {"[::1]", "localhost"}
        hosts = {f"{name}:{port}" for name in names}
        for extra in config.allowed_hosts:
            extra = extra.lower()
            hosts.add(extra if _has_port(extra) else f"{extra}:{port}")
        own_origins = {f"http://{host}" for host in hosts}
        return cls(
            token=config.token.encode(),
            hosts=frozenset(hosts),
            origins=frozenset(own_origins | {o.lower() for o in config.allow_origins}),
            loopback_only=config.loopback_only,
            max_body=config.max_body_bytes,
        )

    def token_ok(self, presented: bytes) -> bool:
        """Constant-time comparison of a presented bearer token."""
        return hmac.compare_digest(presented, self.token)


def _has_port(host: str) -> bool:
    return host.rsplit(":", 1)[-1].isdigit() and not host.endswith("]")
