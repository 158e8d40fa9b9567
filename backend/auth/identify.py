"""From a presented secret to a principal: the bootstrap secrets of the settings first, then the
token table. The settings' secrets are compared in constant time."""

from __future__ import annotations

import secrets

from sangsach.config import BackendSettings

from .roles import Principal, Role
from .tokens import TokenStore

ADMIN_FROM_SETTINGS = Principal("admin (SANGSACH_ADMIN_TOKEN)", Role.ADMIN)
# The pages show people, not settings: the bootstrap admin as a clerk would name it. API answers
# and logs keep the technical name, which tells an administrator where the secret comes from.
SHOWN_NAMES = {ADMIN_FROM_SETTINGS.name: "Mã khởi tạo"}  # the header adds "(quản trị)"


def shown_name(principal: Principal) -> str:
    """The name a page shows for ``principal``."""
    return SHOWN_NAMES.get(principal.name, principal.name)


class Authenticator:
    def __init__(self, settings: BackendSettings, store: TokenStore) -> None:
        self.store = store
        pairs = (
            (settings.admin_token.get_secret_value(), ADMIN_FROM_SETTINGS),
            (
                settings.ingest_token.get_secret_value(),
                Principal(
                    "gateway (SANGSACH_INGEST_TOKEN)",
                    Role.GATEWAY,
                    settings.ingest_gateway_id_list,  # SANGSACH_INGEST_GATEWAY_IDS
                ),
            ),
        )
        self._fixed = [(secret.encode(), who) for secret, who in pairs if secret]

    def identify(self, secret: str) -> Principal | None:
        """The principal of a secret, or None for an unknown or revoked one."""
        found = self.who(secret)
        return found[0] if found else None

    def who(self, secret: str) -> tuple[Principal, int | None] | None:
        """The principal of a secret and its token's id (None for a secret of the settings)."""
        if not secret:
            return None
        given = secret.encode()
        found = None
        for expected, principal in self._fixed:  # every one compared: no early exit to time
            if secrets.compare_digest(given, expected):
                found = principal
        if found is not None:
            return found, None
        token = self.store.find(secret)
        return (principal_of(token.name, token.role, token.scope), token.id) if token else None


def principal_of(name: str, role: Role, scope: str | None = None) -> Principal:
    """An issued token's principal: a gateway token speaks for the gateway it is named after."""
    gateways = frozenset({name}) if role is Role.GATEWAY else frozenset()
    return Principal(name, role, gateways, scope)
