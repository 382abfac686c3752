"""What is known of each stored API key: the store's entry and the verdict of the provider's
answers. A 401 marks the key invalid and a success clears the mark; the mark is kept by the
key's fingerprint, so a new key starts with no verdict."""

from __future__ import annotations

import hashlib

from adapters.base import Credential
from contracts.base import AuthMode, ProviderId
from contracts.errors import ProviderError
from contracts.providers import ApiKeyState, ApiKeyStateName
from service.providers.credentials.keystore import KeyStore
from service.providers.resolver import KeyInfo, add_key


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class KeyVerdicts:
    """One per provider book; every method runs on the event loop."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._invalid: dict[ProviderId, str] = {}

    def evidence(
        self, provider: ProviderId, credential: Credential, error: ProviderError | None
    ) -> bool:
        """What a call made with `credential` says of its API key: a 401 marks the key invalid,
        a success clears that mark (a 403 or any other failure says nothing). True when the
        verdict changed. The one place this is decided, for executions and checks alike."""
        if credential.api_key is None:
            return False
        fingerprint = _fingerprint(credential.api_key)
        marked = self._invalid.get(provider) == fingerprint
        if error is None and marked:
            del self._invalid[provider]
            return True
        if error is not None and error.upstream_status == 401 and not marked:
            self._invalid[provider] = fingerprint
            return True
        return False

    def forget(self, provider: ProviderId) -> None:
        """The user stored or removed a key: start from no verdict."""
        self._invalid.pop(provider, None)

    def info(self, provider: ProviderId) -> KeyInfo:
        """What is known about the key in force, without the key."""
        stored = self.keys.key(provider)
        if stored is None:
            return KeyInfo(present=False)
        invalid = self._invalid.get(provider) == _fingerprint(stored.value)
        return KeyInfo(present=True, invalid=invalid, source=stored.source)

    def credential(self, provider: ProviderId) -> Credential | None:
        """The API-key credential, when a usable key exists."""
        stored = self.keys.key(provider)
        if stored is None or not self.info(provider).usable:
            return None
        return Credential(AuthMode.API_KEY, stored.source, api_key=stored.value)

    def state(self, provider: ProviderId) -> ApiKeyState:
        """The key's state as provider status shows it."""
        info = self.info(provider)
        stored = self.keys.key(provider)
        problem = self.keys.problem()
        if info.invalid:
            state, remediation = ApiKeyStateName.INVALID, f"Replace the key. {add_key(provider)}"
        elif info.present:
            state, remediation = ApiKeyStateName.CONFIGURED, None
        else:
            state, remediation = ApiKeyStateName.MISSING, add_key(provider)
        if problem is not None:
            remediation = f"{problem.message} {problem.remediation}"
        return ApiKeyState(
            state=state,
            source=info.source,
            hint=stored.hint if stored else None,
            store=self.keys.store_name,
            remediation=remediation,
        )
