"""Releases and rollouts, in the SQL store; release files on disk beside it.

A release is a compiled bundle's ``lib/*.mpy`` (``sangsach firmware build``), numbered in the
order it was made: a node takes only a release numbered above the one it runs. Its files are
copied to ``<data_dir>/firmware/<number>/`` and served to the nodes from ``/ota/<number>/``.
A rollout offers a release to devices (one retained, signed ``.../update`` message each) and
keeps, per device, the last release offered and what the device reported of it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Engine, Float, Integer, String, Table, func, select
from sqlalchemy.engine import Connection

from sangsach.contract import UpdateOutcome, topic

from .. import db
from ..db import metadata
from ..sql import insert_for
from . import signing

MANIFEST = "manifest.json"
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$")
STATES = ("offered", "confirmed", "rolled_back", "failed", "refused")

firmware_releases = Table(
    "firmware_releases",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("version", String(32), nullable=False, unique=True),
    Column("mpy", Integer, nullable=False),  # the .mpy format's major version
    Column("files", JSON, nullable=False),  # [[name, size, sha256], ...]
    Column("created_at", Float, nullable=False),
)

firmware_rollouts = Table(
    "firmware_rollouts",
    metadata,
    Column("device_id", String(48), primary_key=True),
    Column("number", Integer, nullable=False),  # the release last offered to it
    Column("state", String(16), nullable=False),  # one of STATES
    Column("reason", String(80), nullable=False),
    Column("offered_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)


class FirmwareError(ValueError):
    """A release or rollout that cannot be made; the message says why."""


@dataclass(frozen=True)
class Release:
    number: int
    version: str
    mpy: int
    files: list[list[Any]]
    created_at: float

    def body(self, base_url: str) -> dict[str, Any]:
        """What the node is offered (signed per device by signing.offer)."""
        return {
            "number": self.number,
            "version": self.version,
            "mpy": self.mpy,
            "url": f"{base_url.rstrip('/')}/ota/{self.number}/",
            "files": self.files,
        }


@dataclass(frozen=True)
class Rollout:
    device_id: str
    kind: str
    village_id: str
    number: int
    version: str
    state: str
    reason: str
    offered_at: float
    updated_at: float
    fw: str | None  # what the device says it runs


def files_root(data_dir: Path) -> Path:
    return data_dir / "firmware"


def read_bundle(bundle: Path) -> tuple[int, list[list[Any]]]:
    """The ``.mpy`` format and the ``lib/*.mpy`` files of a built bundle, each checked against
    its manifest."""
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
        mpy = int(str(manifest["mpy"]).split(".")[0])
        listed = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FirmwareError(
            f"{bundle}: not a firmware bundle ({err}); build one with `sangsach firmware build`"
        ) from err
    files: list[list[Any]] = []
    for entry in listed:
        path = str(entry["path"])
        if not (path.startswith("lib/") and path.endswith(".mpy")) or path.count("/") != 1:
            continue  # boot.py, main.py and loader.py are never replaced over the air
        data = (bundle / path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != entry["size"] or digest != entry["sha256"]:
            raise FirmwareError(f"{bundle / path}: does not match the bundle's manifest")
        files.append([path.removeprefix("lib/"), len(data), digest])
    if not files:
        raise FirmwareError(f"{bundle}: no lib/*.mpy files in the bundle")
    return mpy, sorted(files)


def create_release(
    engine: Engine, data_dir: Path, bundle: Path, version: str, now: float
) -> Release:
    if not VERSION.match(version):
        raise FirmwareError(
            f"version {version!r}: 1 to 32 letters, digits, '.', '+' or '-' (such as 1.2.0)"
        )
    mpy, files = read_bundle(bundle)
    with engine.begin() as conn:
        if conn.execute(
            select(firmware_releases.c.number).where(firmware_releases.c.version == version)
        ).first():
            raise FirmwareError(f"version {version} is already a release; choose another")
        number = (conn.execute(select(func.max(firmware_releases.c.number))).scalar() or 0) + 1
        folder = files_root(data_dir) / str(number)
        if folder.exists():
            shutil.rmtree(folder)  # left by a release whose row was never written
        folder.mkdir(parents=True)
        for name, _, _ in files:
            shutil.copyfile(bundle / "lib" / name, folder / name)
        conn.execute(
            firmware_releases.insert().values(
                number=number, version=version, mpy=mpy, files=files, created_at=now
            )
        )
    return Release(number, version, mpy, files, now)


def releases(engine: Engine) -> list[Release]:
    with engine.connect() as conn:
        rows = conn.execute(select(firmware_releases).order_by(firmware_releases.c.number.desc()))
        return [Release(r.number, r.version, r.mpy, r.files, r.created_at) for r in rows]


def release(engine: Engine, number: int) -> Release | None:
    with engine.connect() as conn:
        r = conn.execute(
            select(firmware_releases).where(firmware_releases.c.number == number)
        ).first()
    return Release(r.number, r.version, r.mpy, r.files, r.created_at) if r else None


def release_file(data_dir: Path, found: Release, name: str) -> Path | None:
    """The file ``name`` of a release, only when the release lists it."""
    if not any(entry[0] == name for entry in found.files):
        return None
    path = files_root(data_dir) / str(found.number) / name
    return path if path.is_file() else None


def select_devices(
    engine: Engine,
    devices: Iterable[str] = (),
    village: str | None = None,
    kind: str | None = None,
    everyone: bool = False,
) -> list[str]:
    """The registry's devices a rollout names; unknown ids or an empty choice are refused."""
    named = sorted(set(devices))
    if not (named or village or kind or everyone):
        raise FirmwareError("choose the devices: some ids, a village, a kind, or all")
    d = db.devices
    query = select(d.c.id).order_by(d.c.id)
    if village:
        query = query.where(d.c.village_id == village)
    if kind:
        query = query.where(d.c.kind == kind)
    with engine.connect() as conn:
        chosen = [row.id for row in conn.execute(query)]
    if named:
        unknown = sorted(set(named) - set(chosen))
        if unknown:
            raise FirmwareError(
                f"not in the registry (or not in that choice): {', '.join(unknown)}"
            )
        chosen = named
    if not chosen:
        raise FirmwareError("no device of the registry matches that choice")
    return chosen


Publish = Callable[[Mapping[str, bytes]], None]


def start_rollout(
    engine: Engine,
    found: Release,
    device_ids: list[str],
    master_key: str,
    base_url: str,
    publish: Publish,
    now: float,
) -> None:
    """Offer ``found`` to the devices: one signed, retained message each, published (and
    acknowledged by the broker) before the rollout is recorded."""
    body = found.body(base_url)
    messages = {
        str(topic(device_id, "update")): signing.offer(master_key, device_id, body)
        for device_id in device_ids
    }
    publish(messages)
    table = firmware_rollouts
    with engine.begin() as conn:
        for device_id in device_ids:
            values = {
                "number": found.number, "state": "offered", "reason": "",
                "offered_at": now, "updated_at": now,
            }  # fmt: skip
            stmt = insert_for(conn, table).values(device_id=device_id, **values)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=[table.c.device_id], set_=values)
            )


def observe(conn: Connection, device_id: str, outcome: UpdateOutcome, at: float) -> None:
    """A device's status reported what became of an update: recorded against its rollout when
    it is the release last offered to it (a report of an older one changes nothing)."""
    table = firmware_rollouts
    conn.execute(
        table.update()
        .where(table.c.device_id == device_id, table.c.number == outcome.number)
        .values(state=outcome.state, reason=outcome.reason, updated_at=at)
    )


def rollouts(engine: Engine, number: int | None = None) -> list[Rollout]:
    r, d, s, rel = firmware_rollouts, db.devices, db.device_state, firmware_releases
    query = (
        select(r, d.c.kind, d.c.village_id, rel.c.version, s.c.fw)
        .join(d, d.c.id == r.c.device_id)
        .join(rel, rel.c.number == r.c.number)
        .outerjoin(s, s.c.device_id == r.c.device_id)
        .order_by(r.c.device_id)
    )
    if number is not None:
        query = query.where(r.c.number == number)
    with engine.connect() as conn:
        return [
            Rollout(
                row.device_id,
                row.kind,
                row.village_id,
                row.number,
                row.version,
                row.state,
                row.reason,
                row.offered_at,
                row.updated_at,
                row.fw,
            )
            for row in conn.execute(query)
        ]

