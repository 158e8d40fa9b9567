"""Add, rotate and revoke MQTT accounts; the password files and the ACL change together.

Only devices of the registry and the services get an account. Devices and services are kept in
two password files, read by different broker listeners, so that a device's account cannot
connect where the services do (and take a gateway's client id there). Every change rewrites the
files atomically; the new password is returned once and never stored in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sangsach.registry_file import Commune, DeviceRef

from . import acl, passwords

PASSWORD_FILE = "passwd"  # noqa: S105 - a file name: the devices' accounts
SERVICES_PASSWORD_FILE = "passwd-services"  # noqa: S105 - a file name: the services' accounts
ACL_FILE = "acl"


class AccountError(ValueError):
    """A refused change; the message names the account and the reason."""


@dataclass(frozen=True)
class Issued:
    """A password just issued: shown once to the person who asked, then only its hash remains."""

    user: str
    password: str
    device: DeviceRef | None


class BrokerAccounts:
    """The accounts kept in ``folder`` (the password file and the ACL Mosquitto reads)."""

    def __init__(self, folder: Path, commune: Commune) -> None:
        self.folder = folder
        self.commune = commune
        self._devices = {device.id: device for device in commune.devices()}

    @property
    def password_path(self) -> Path:
        return self.folder / PASSWORD_FILE

    @property
    def services_password_path(self) -> Path:
        return self.folder / SERVICES_PASSWORD_FILE

    @property
    def acl_path(self) -> Path:
        return self.folder / ACL_FILE

    def users(self) -> dict[str, str]:
        """Every account, devices' and services' (an older folder has both in one file)."""
        users: dict[str, str] = {}
        for path in (self.password_path, self.services_password_path):
            if path.exists():
                users.update(passwords.parse(path.read_text(encoding="utf-8"), str(path)))
        return users

    def add(self, user: str) -> Issued:
        """A new account for a registry device or a service (gateway, backend, simulators)."""
        users = self.users()
        if user in users:
            raise AccountError(
                f"{user} đã có tài khoản (already has an account): "
                "dùng `rotate` để cấp mật khẩu mới (use `rotate` for a new password)"
            )
        return self._issue(users, user)

    def rotate(self, user: str) -> Issued:
        users = self.users()
        if user not in users:
            raise AccountError(f"{user} chưa có tài khoản (has no account): dùng `add`")
        return self._issue(users, user)

    def revoke(self, user: str) -> None:
        users = self.users()
        if users.pop(user, None) is None:
            raise AccountError(f"{user} chưa có tài khoản (has no account)")
        self._save(users)

    def sync(self) -> list[str]:
        """Rewrite the ACL from the registry; returns accounts no longer in the registry."""
        users = self.users()
        self._save(users)
        return self.orphans(users)

    def orphans(self, users: dict[str, str]) -> list[str]:
        return sorted(u for u in users if u not in self._devices and not self._service(u))

    def _issue(self, users: dict[str, str], user: str) -> Issued:
        device = self._devices.get(user)
        if device is None and not self._service(user):
            services = ", ".join(["gateway-<id>", *sorted(acl.SERVICE_ACCOUNTS)])
            raise AccountError(
                f"{user} không có trong sổ đăng ký (is neither a device of the registry nor a "
                f"service account: {services})"
            )
        password = passwords.new_password()
        users[user] = passwords.hash_password(password)
        self._save(users)
        return Issued(user=user, password=password, device=device)

    def _service(self, name: str) -> bool:
        return name not in self._devices and acl.service_access(name) is not None

    def _save(self, users: dict[str, str]) -> None:
        services = {name: encoded for name, encoded in users.items() if self._service(name)}
        others = {name: encoded for name, encoded in users.items() if name not in services}
        # A device the registry no longer lists keeps its password line (revoke it) but no topic.
        devices = [name for name in users if name in self._devices]
        passwords.write_atomically(self.password_path, passwords.render(others))
        passwords.write_atomically(self.services_password_path, passwords.render(services))
        passwords.write_atomically(self.acl_path, acl.render(services, devices))
