"""The four roles. Staff roles are ranked (admin > operator > viewer); the gateway role stands
apart: it may ingest and nothing else, and nobody else may ingest."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sangsach.config import ANY_GATEWAY


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    GATEWAY = "gateway"


STAFF: tuple[Role, ...] = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)

VIETNAMESE = {
    Role.VIEWER: "xem",
    Role.OPERATOR: "xử lý",
    Role.ADMIN: "quản trị",
    Role.GATEWAY: "gateway",
}


def allows(have: Role, need: Role) -> bool:
    """Whether a token of role ``have`` may do what needs ``need``."""
    if Role.GATEWAY in (have, need):
        return have is need
    return STAFF.index(have) >= STAFF.index(need)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token's name and role, and for a gateway token the gateway ids it may
    speak for (an issued one: the id it is named after; the settings' one: a setting).

    ``scope``: the one commune a staff member may see, by its id in the province file; None:
    the whole installation (the province's office, or a lone commune's)."""

    name: str
    role: Role
    gateway_ids: frozenset[str] = frozenset()
    scope: str | None = None

    def speaks_for(self, gateway_id: str) -> bool:
        ids = self.gateway_ids
        return self.role is Role.GATEWAY and (gateway_id in ids or ANY_GATEWAY in ids)
