"""The four roles. Staff roles are ranked (admin > operator > viewer); the gateway role stands
apart: it may ingest and nothing else, and nobody else may ingest."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
    """Who is calling: a token's name and role."""

    name: str
    role: Role
