"""The ``sangsach`` command: run the demo, the gateway, the backend or the simulators."""

from __future__ import annotations

import ctypes
import gc
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .config import (
    BackendSettings,
    DevicesSettings,
    GatewaySettings,
    MqttSettings,
    SettingsError,
    SimulatorSettings,
    load,
)
from .private_files import private_dir, private_process
from .registry_file import RegistryFileError, load_registry

if TYPE_CHECKING:
    from .broker.accounts import BrokerAccounts, Issued


def _fail(message: str) -> NoReturn:
    click.echo(f"sangsach: {message}", err=True)
    sys.exit(2)


def _where(url: str) -> str:
    """A database as a person finds it: the file of SQLite, a server's URL without its password."""
    from sqlalchemy.engine import make_url

    from sangsach.backend.db import sqlite_file

    path = sqlite_file(url)
    return str(path.resolve()) if path else make_url(url).render_as_string(hide_password=True)


def _opened(settings: BackendSettings, readings: bool = False) -> None:
    """One line on stderr: the data directory and the database this command uses (and with
    ``readings``, the time-series store), so that the wrong folder shows at once."""
    from sangsach.backend.services import sqlite_timeseries_file

    line = (
        f"thư mục dữ liệu (data directory): {settings.data_dir.resolve()}; "
        f"cơ sở dữ liệu (database): {_where(settings.sql_url)}"
    )
    if readings:
        store = (
            str(sqlite_timeseries_file(settings).resolve())
            if settings.timeseries == "sqlite"
            else f"InfluxDB {settings.influx_url} {settings.influx_db}"
        )
        line += f"; số liệu đo (readings): {store}"
    click.echo(f"sangsach: {line}", err=True)


def _missing(path: Path) -> NoReturn:
    _fail(
        f"không có cơ sở dữ liệu {path.resolve()} (no database there; nothing was created). "
        "Đặt SANGSACH_DATA_DIR là thư mục dữ liệu của backend, ví dụ SANGSACH_DATA_DIR=var/demo "
        "cho bản chạy thử (set SANGSACH_DATA_DIR to the backend's data directory)"
    )


def _reading_services(settings: BackendSettings) -> Any:
    """The backend's services on the databases that exist, for a command that reads them."""
    from sangsach.backend.db import MissingDatabase
    from sangsach.backend.services import bootstrap
    from sangsach.backend.timeseries.port import TimeSeriesError

    _opened(settings, readings=True)
    try:
        return bootstrap(settings, existing=True)
    except MissingDatabase as err:
        _missing(err.path)
    except (RegistryFileError, TimeSeriesError) as err:
        _fail(str(err))


def _logging(verbose: bool, quiet: tuple[str, ...] = ()) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per HTTP request is noise; failures are logged by our own code.
    for name in ("httpx", *quiet):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """sangsach: đèn đường và thùng rác của xã (streetlights and waste bins of the commune).

    Settings come from SANGSACH_* environment variables; see docs/configuration.md.
    """
    # Every command, and every process it starts, keeps what it writes to its own account: the
    # databases hold names, phone numbers and SMS (sangsach/private_files.py).
    private_process()


@main.command()
@click.option("--minutes", type=float, default=None, help="Stop after this many minutes.")
@click.option(
    "--speed",
    type=float,
    default=600.0,
    show_default=True,
    help="Simulated time speed-up until it reaches the present, then real time.",
)
@click.option("--port", type=int, default=8000, show_default=True, help="Port of the web API.")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("var/demo"), show_default=True
)
def demo(minutes: float | None, speed: float, port: int, data_dir: Path) -> None:
    """Run everything on one machine: broker, backend (SQLite), gateway and the simulated commune.

    Needs only the mosquitto binary; the demo starts its own broker on a free port.
    """
    from .demo import run_demo

    _logging(False, quiet=("sangsach.simulators",))
    try:
        run_demo(data_dir=data_dir, port=port, speed=speed, minutes=minutes)
    except (SettingsError, RegistryFileError) as err:
        _fail(str(err))


@main.command()
@click.option("-v", "--verbose", is_flag=True)
def gateway(verbose: bool) -> None:
    """Take device messages from the broker, check them, spool them and forward them.

    Every rejected message is kept as a dead letter with its reason; nothing is acknowledged to
    the broker before it is on disk.
    """
    from sangsach.gateway.service import Gateway

    _logging(verbose)
    try:
        settings = load(GatewaySettings)
    except SettingsError as err:
        _fail(str(err))
    click.echo(
        f"sangsach: thư mục dữ liệu (data directory): {settings.data_dir.resolve()}; "
        f"hàng đợi (spool): {settings.spool_path.resolve()}",
        err=True,
    )
    service = Gateway(settings)
    _settled()
    sys.exit(service.run_forever())


# glibc's mallopt parameter and the size from which an allocation gets pages of its own.
M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES = -3, 128 * 1024


def _own_pages_for_large_blocks() -> None:
    """Large blocks (a batch's body, its lines for the time series: hundreds of kB each) get
    pages of their own, given back when freed. By default glibc raises that threshold as
    such blocks are freed, after which they come from the heap, whose free space it keeps:
    up to 10 to 25 MB of the backend's peak at 100,000 devices, by the runs of the memory
    benchmark (docs/performance.md, issue 22).
    Not glibc (musl, macOS): nothing to do."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def _settled() -> None:
    """Start-up is done: what it built (the registry, the app, the libraries) lives as long as
    the process. Frozen, the garbage collector stops walking it at every full collection (in
    the drain benchmark that walking cost the backend about 15 ms of CPU per 1,000 readings).

    Young passes every ``YOUNG_PASS_EVERY`` allocations of tracked objects instead of 700:
    the backend's collector went from 0.9 to 0.1 ms of CPU per 1,000 readings in bench.ingest.
    Not 50,000: that cost 15 MB of the backend's peak RSS in bench.ingest and 30 to 40 MB of
    the gateway's in the memory benchmark (docs/performance.md, issue 22).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_PASS_EVERY, *gc.get_threshold()[1:])


YOUNG_PASS_EVERY = 10_000


@main.command()
@click.option("-v", "--verbose", is_flag=True)
def backend(verbose: bool) -> None:
    """Serve the REST API (ingest, registry, device state, dead letters) with OpenAPI docs."""
    _own_pages_for_large_blocks()
    import uvicorn

    from sangsach.backend.app import create_app
    from sangsach.backend.migrations import MigrationError, upgrade_apart
    from sangsach.backend.timeseries.port import TimeSeriesError

    _logging(verbose)
    try:
        settings = load(BackendSettings)
        _opened(settings, readings=True)
        upgrade_apart(settings.sql_url)  # Alembic is not left in the backend's memory
        app = create_app(settings)
    except (SettingsError, RegistryFileError) as err:
        _fail(str(err))
    except MigrationError as err:
        _fail(f"the database cannot be upgraded: {err}")
    except TimeSeriesError as err:
        _fail(f"the time-series store ({settings.timeseries}) is not usable: {err}")
    _settled()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        access_log=verbose,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
    )


@main.command()
@click.option(
    "--speed", type=float, default=1.0, show_default=True, help="Simulated time speed-up."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for a repeatable run.")
@click.option("--hours", type=float, default=None, help="Simulate this many hours, then stop.")
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    help="Simulated start, UTC (default: now minus --hours).",
)
@click.option("--bad-rate", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Fraction of deliberately invalid messages.")  # fmt: skip
@click.option("--ledger", type=click.Path(path_type=Path), default=None,
              help="Write every message sent to this JSON-lines file.")  # fmt: skip
@click.option("--registry", type=click.Path(path_type=Path, exists=True), default=None,
              help="Registry file (default: SANGSACH_REGISTRY_FILE or the sample commune).")  # fmt: skip
def simulate(
    speed: float,
    seed: int,
    hours: float | None,
    start: datetime | None,
    bad_rate: float,
    ledger: Path | None,
    registry: Path | None,
) -> None:
    """Simulate every lamp and bin of the registry as MQTT nodes speaking the wire contract.

    For thousands of devices, generate a larger registry with `sangsach registry generate` and
    load the same file into the backend.
    """
    from sangsach.simulators.fleet import FleetError
    from sangsach.simulators.run import run_simulation

    _logging(False)
    try:
        settings = load(SimulatorSettings)
        commune = load_registry(registry or settings.registry_file)
    except (SettingsError, RegistryFileError) as err:
        _fail(str(err))
    try:
        result = run_simulation(
            commune,
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            speed=speed,
            seed=seed,
            hours=hours,
            start=start.replace(tzinfo=UTC) if start else None,
            bad_rate=bad_rate,
            ledger_path=ledger,
            username=settings.mqtt_username,
            password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
            keepalive_s=settings.mqtt_keepalive_s,
            tls_ca=settings.mqtt_tls_ca,
        )
    except (FleetError, ValueError) as err:
        _fail(str(err))
    click.echo(result.summary())


@main.group()
def registry() -> None:
    """Check or generate commune registry files."""


@registry.command("check")
@click.argument("path", type=click.Path(path_type=Path))
def registry_check(path: Path) -> None:
    """Check a registry file; errors name the line and the field."""
    try:
        commune = load_registry(path)
    except RegistryFileError as err:
        _fail(str(err))
    devices = list(commune.devices())
    lamps = sum(d.kind == "lamp" for d in devices)
    click.echo(
        f"{path}: {len(commune.villages)} thôn, {lamps} đèn, {len(devices) - lamps} thùng rác, "
        f"{len(commune.teams)} tổ — OK"
    )


@registry.command("generate")
@click.option("--villages", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--lamps", type=click.IntRange(0, 10_000), default=30, show_default=True,
              help="Lamps per village.")  # fmt: skip
@click.option("--bins", type=click.IntRange(1, 10_000), default=8, show_default=True,
              help="Bins per village.")  # fmt: skip
@click.option("--seed", type=int, default=1, show_default=True)
def registry_generate(villages: int, lamps: int, bins: int, seed: int) -> None:
    """Print a synthetic registry (YAML) of any size, for load tests and large simulations."""
    from .registry_gen import generate

    click.echo(generate(villages, lamps, bins, seed), nl=False)


@main.command()
@click.option("--period", required=True,
              help="2026-H1, 2026-H2, 2026 (a whole year) or days 2026-06-10..2026-06-12.")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), default=Path(), show_default=True,
              help="Folder for the CSV and the printable HTML.")  # fmt: skip
@click.option("--pdf", is_flag=True, help="Also write the document as a PDF (A4).")
def report(period: str, out: Path, pdf: bool) -> None:
    """Write the 6-month or yearly report: indicators per village against targets, the
    ranking and alert statistics, as CSV and as a document made for printing (Vietnamese),
    with --pdf also as a PDF."""
    from sangsach.backend.reports.build import build_report, render_csv
    from sangsach.backend.reports.document import render_html, render_pdf
    from sangsach.backend.reports.period import PERIOD_HINT, PeriodError, parse_period

    try:
        chosen = parse_period(period)
    except PeriodError as err:
        _fail(f"không đọc được kỳ {period!r}. {PERIOD_HINT} ({err})")
    try:
        settings = load(BackendSettings)
    except SettingsError as err:
        _fail(str(err))
    services = _reading_services(settings)
    try:
        built = build_report(services.engine, services.scores, services.commune, chosen)
    finally:
        services.close()
    out.mkdir(parents=True, exist_ok=True)
    files: list[tuple[str, bytes]] = [
        ("csv", render_csv(built).encode()),
        ("html", render_html(built).encode()),
    ]
    if pdf:
        files.append(("pdf", render_pdf(built)))
    for suffix, content in files:
        path = out / f"bao-cao-{chosen.name}.{suffix}"
        path.write_bytes(content)
        click.echo(f"đã ghi (written) {path}")


@main.command()
@click.option("--from", "first", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="First local day, YYYY-MM-DD.")  # fmt: skip
@click.option("--to", "last", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="Last local day, YYYY-MM-DD (included).")  # fmt: skip
@click.option("--recompute", is_flag=True,
              help="Replace days already stored (after a registry or census correction).")  # fmt: skip
def rollup(first: datetime, last: datetime, recompute: bool) -> None:
    """Compute each village's daily parts of its scores and store them (the pages, reports and
    Grafana read them). Days already stored are kept unless --recompute: a closed period's
    report changes only when asked."""
    if last < first:
        _fail("--to must not be before --from")
    try:
        settings = load(BackendSettings)
    except SettingsError as err:
        _fail(str(err))
    services = _reading_services(settings)
    try:
        written = services.scores.roll_up(first.date(), last.date(), recompute=recompute)
    finally:
        services.close()
    click.echo(f"đã tính {written} điểm theo ngày (daily scores written)")


@main.group()
def devices() -> None:
    """Tài khoản MQTT của thiết bị (MQTT accounts of the devices): add, rotate, revoke, list.

    A device is a registry id; `gateway-<id>` (one per gateway), `backend` and `simulators` are
    the service accounts, kept apart from the devices'. The password files and the ACL are
    rewritten together; reload the broker afterwards.
    """


def _accounts() -> tuple[DevicesSettings, BrokerAccounts]:
    from .broker.accounts import BrokerAccounts
    from .broker.passwords import PasswordFileError

    try:
        settings = load(DevicesSettings)
        click.echo(
            f"sangsach: thư mục dữ liệu (data directory): {settings.data_dir.resolve()}; "
            f"tài khoản broker (broker accounts): {settings.auth_dir.resolve()}",
            err=True,
        )
        accounts = BrokerAccounts(settings.auth_dir, load_registry(settings.registry_file))
        accounts.users()  # a damaged password file stops here, with its line
    except (SettingsError, RegistryFileError, PasswordFileError) as err:
        _fail(str(err))
    return settings, accounts


def _issued(settings: DevicesSettings, issued: Issued, wifi_ssid: str) -> None:
    from sangsach.backend.firmware.signing import device_key

    from .broker.snippet import firmware_settings

    click.echo(f"mật khẩu MQTT của {issued.user} (shown once, keep it now): {issued.password}")
    if issued.device is not None:
        host = settings.device_mqtt_host or "ĐỊA-CHỈ-MÁY-CHỦ"
        if not settings.device_mqtt_host:
            click.echo(
                "chú ý: chưa đặt SANGSACH_DEVICE_MQTT_HOST, hãy sửa mqtt_host "
                "(SANGSACH_DEVICE_MQTT_HOST is not set: fill in mqtt_host)",
                err=True,
            )
        click.echo("settings.json cho thiết bị (for the technician, firmware/settings.json):")
        click.echo(
            firmware_settings(
                issued.device,
                issued.password,
                host=host,
                port=settings.device_mqtt_port,
                wifi_ssid=wifi_ssid,
                ota_key=device_key(
                    settings.firmware_key.get_secret_value(), issued.device.id
                ).hex(),
            ),
            nl=False,
        )
    click.echo("nạp lại broker (reload the broker): docker compose kill -s HUP mosquitto")


_WIFI = click.option("--wifi-ssid", default="", help="Wi-Fi name written into the snippet.")


@devices.command("add")
@click.argument("name")
@_WIFI
def devices_add(name: str, wifi_ssid: str) -> None:
    """Create the MQTT account of a registry device or a service; print its password once."""
    from .broker.accounts import AccountError

    settings, accounts = _accounts()
    try:
        issued = accounts.add(name)
    except AccountError as err:
        _fail(str(err))
    _issued(settings, issued, wifi_ssid)


@devices.command("rotate")
@click.argument("name")
@_WIFI
def devices_rotate(name: str, wifi_ssid: str) -> None:
    """Give an account a new password (the old one stops working at the broker's reload)."""
    from .broker.accounts import AccountError

    settings, accounts = _accounts()
    try:
        issued = accounts.rotate(name)
    except AccountError as err:
        _fail(str(err))
    _issued(settings, issued, wifi_ssid)


@devices.command("revoke")
@click.argument("name")
def devices_revoke(name: str) -> None:
    """Remove an account: the broker refuses it from its next reload."""
    from .broker.accounts import AccountError

    _, accounts = _accounts()
    try:
        accounts.revoke(name)
    except AccountError as err:
        _fail(str(err))
    click.echo(f"đã thu hồi (revoked) {name}; nạp lại broker: docker compose kill -s HUP mosquitto")


@devices.command("sync")
def devices_sync() -> None:
    """Rewrite the ACL after the registry changed (a device removed loses its topics)."""
    _, accounts = _accounts()
    orphans = accounts.sync()
    click.echo(f"đã ghi (written) {accounts.acl_path}")
    for name in orphans:
        click.echo(f"{name}: không còn trong sổ đăng ký (not in the registry): revoke it")


@devices.command("list")
def devices_list() -> None:
    """Every registry device and service account, and whether it has an account."""
    from .broker.acl import GATEWAY_ACCOUNT, SERVICE_ACCOUNTS

    _, accounts = _accounts()
    users = accounts.users()
    orphans = accounts.orphans(users)
    # backend and simulators, and the gateways' accounts that exist (`gateway` alone: older)
    gateways = {name for name in users if name == "gateway" or GATEWAY_ACCOUNT.match(name)}
    for name in sorted(set(SERVICE_ACCOUNTS) - {"gateway"} | gateways):
        click.echo(f"{name:<48} dịch vụ   {'có' if name in users else 'chưa có'} tài khoản")
    for device in accounts.commune.devices():
        has = "có" if device.id in users else "chưa có"
        click.echo(f"{device.id:<48} {device.kind:<8} {has} tài khoản")
    for name in orphans:
        click.echo(f"{name:<48} ?        không còn trong sổ đăng ký (not in the registry): revoke")


@main.group()
def bridges() -> None:
    """Cầu nối broker xã – tỉnh (the communes' bridges to the central broker, docs/deploy.md)."""


@bridges.command("acl")
@click.argument("communes", nargs=-1, required=True, metavar="COMMUNE=REGISTRY_FILE...")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="ACL file to write; default: acl-bridges in the broker accounts' folder.")  # fmt: skip
def bridges_acl(communes: tuple[str, ...], out: Path | None) -> None:
    """Write the central broker's ACL for the communes' bridges, from their registries.

    Each bridge (certificate CN bridge-COMMUNE) may write the telemetry and status of its own
    registry's devices and read their cmd, config and update. Reload the broker afterwards.
    """
    from .broker.bridges import BridgeError, render
    from .broker.passwords import write_atomically

    devices: dict[str, list[str]] = {}
    try:
        for spec in communes:
            commune, sep, path = spec.partition("=")
            if not sep or not commune or not path:
                raise BridgeError(f"{spec!r}: expected COMMUNE=REGISTRY_FILE")
            if commune in devices:
                raise BridgeError(f"xã {commune} given twice (commune given twice)")
            devices[commune] = [device.id for device in load_registry(Path(path)).devices()]
        text = render(devices)
        if out is None:
            out = load(DevicesSettings).auth_dir / "acl-bridges"
        write_atomically(out, text)
    except (BridgeError, RegistryFileError, SettingsError) as err:
        _fail(str(err))
    total = sum(len(ids) for ids in devices.values())
    click.echo(f"đã ghi (written) {out}: {len(devices)} xã, {total} thiết bị")
    click.echo("nạp lại broker trung tâm (reload the central broker): kill -HUP <mosquitto>")


@main.group()
def tokens() -> None:
    """Mã truy cập API và trang web (API and web access tokens): add, list, revoke.

    Roles: viewer (reads), operator (acknowledges alerts, enters the census), admin (everything),
    gateway (ingest only). Tokens are kept hashed in the backend's database (SANGSACH_DATA_DIR or
    SANGSACH_DATABASE_URL); the secret is printed once.
    """


def _backend_database(existing: bool = True) -> tuple[BackendSettings, Any]:
    """The backend's settings and its SQL database, said on stderr; ``existing=False`` may
    create the database (a fresh installation issues its first tokens before the backend has
    run), else a missing one is refused."""
    from sangsach.backend.db import MissingDatabase, make_engine, open_existing
    from sangsach.backend.migrations import MigrationError

    try:
        settings = load(BackendSettings)
    except SettingsError as err:
        _fail(str(err))
    _opened(settings)
    try:
        if existing:
            return settings, open_existing(settings.sql_url)
        private_dir(settings.data_dir)
        return settings, make_engine(settings.sql_url)
    except MissingDatabase as err:
        _missing(err.path)
    except MigrationError as err:
        _fail(f"the database cannot be upgraded: {err}")


def _installation(path: Path) -> Any:
    """The province (or lone commune) of a registry file, or exit 2 naming what is wrong."""
    from .province_file import load_installation

    try:
        return load_installation(path)
    except RegistryFileError as err:
        _fail(str(err))


def _token_store(existing: bool = True) -> Any:
    """The token table; ``existing=False`` (issuing) may create the database."""
    from sangsach.backend.auth.tokens import TokenStore

    return TokenStore(_backend_database(existing)[1])


@tokens.command("add")
@click.option(
    "--name",
    required=True,
    help="Who or what holds it, e.g. 'van-phong-xa'; a gateway token: the SANGSACH_GATEWAY_ID of"
    " the one gateway it speaks for, e.g. 'gw-2'.",
)
@click.option(
    "--role", required=True, type=click.Choice(["viewer", "operator", "admin", "gateway"])
)
@click.option(
    "--commune",
    default=None,
    help="A province's: the id of the one commune (in the province file) it may see; "
    "absent: every commune.",
)
def tokens_add(name: str, role: str, commune: str | None) -> None:
    """Issue a token and print its secret (shown once: only its digest is kept)."""
    from sangsach.backend.auth.roles import Role
    from sangsach.backend.auth.tokens import TokenError

    if commune is not None:
        try:
            registry_file = load(BackendSettings).registry_file
        except SettingsError as err:
            _fail(str(err))
        province = _installation(registry_file)
        if commune not in province.communes:
            _fail(
                f"--commune: không có xã {commune!r} trong sổ đăng ký (no such commune); "
                f"one of {', '.join(province.communes)}"
            )
    try:
        info, secret = _token_store(existing=False).add(name, Role(role), time.time(), commune)
    except TokenError as err:
        _fail(str(err))
    scope = f", chỉ xã {commune}" if commune else ""
    click.echo(
        f"đã cấp mã {info.name!r} quyền {info.role}{scope} (token issued; shown once, keep it now):"
    )
    click.echo(secret)


@tokens.command("list")
def tokens_list() -> None:
    """Every token issued, revoked ones included (never the secrets)."""
    for info in _token_store().list():
        made = datetime.fromtimestamp(info.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        state = "đang dùng (active)"
        if info.revoked_at is not None:
            gone = datetime.fromtimestamp(info.revoked_at, UTC).strftime("%Y-%m-%d %H:%M")
            state = f"đã thu hồi (revoked) {gone}"
        scope = f"xã {info.scope}" if info.scope else "toàn bộ"
        click.echo(f"{info.name:<32} {info.role:<9} {scope:<20} {made} UTC  {state}")


@tokens.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """Revoke the active token of this name: it stops working at once."""
    from sangsach.backend.auth.tokens import TokenError

    try:
        _token_store().revoke(name, time.time())
    except TokenError as err:
        _fail(str(err))
    click.echo(f"đã thu hồi mã {name!r} (revoked)")


@main.group()
def db() -> None:
    """Cơ sở dữ liệu của backend (the backend's SQL database): its schema revision, migrations.

    The backend upgrades its database at every start; these commands show or do it without
    starting it (SANGSACH_DATA_DIR or SANGSACH_DATABASE_URL). See docs/deploy.md.
    """


def _sql_url(existing: bool) -> str:
    """The database's URL, said on stderr; ``existing``: refused when its SQLite file is missing
    (reading its revision must not create it)."""
    from sangsach.backend.db import sqlite_file

    try:
        settings = load(BackendSettings)
    except SettingsError as err:
        _fail(str(err))
    _opened(settings)
    path = sqlite_file(settings.sql_url)
    if existing and path is not None and not path.is_file():
        _missing(path)
    return settings.sql_url


@db.command("current")
def db_current() -> None:
    """The database's schema revision, and the newest this version knows."""
    from sangsach.backend import migrations
    from sangsach.backend.db import connect

    engine = connect(_sql_url(existing=True))
    try:
        current = migrations.current(engine)
    finally:
        engine.dispose()
    newest = migrations.head()
    state = "mới nhất (up to date)" if current == newest else f"cần nâng cấp lên {newest} (upgrade)"
    click.echo(f"{current or 'chưa có (none)'}  {state}")


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database to REVISION (default: the newest), as the backend does at start."""
    from sangsach.backend import migrations
    from sangsach.backend.db import connect

    engine = connect(_sql_url(existing=False))
    try:
        before = migrations.upgrade(engine, revision)
        after = migrations.current(engine)
    except migrations.MigrationError as err:
        _fail(f"the database cannot be upgraded: {err}")
    finally:
        engine.dispose()
    click.echo(f"{before or 'chưa có (none)'} -> {after} (đã nâng cấp, upgraded)")


@db.command("revision")
@click.option(
    "-m", "--message", required=True, help="What the revision changes, e.g. 'web sessions'."
)
def db_revision(message: str) -> None:
    """For developers: write the next revision from the tables in the code (autogenerate).

    Read and finish the file it names: renames and data changes need a hand.
    """
    from sangsach.backend import migrations

    click.echo(f"wrote {migrations.new_revision(message)}")


@main.command("settings")
def settings_cmd() -> None:
    """Print the table of every SANGSACH_* setting (as in docs/configuration.md)."""
    from .configdoc import settings_table

    click.echo(settings_table())


@main.command("schema")
@click.option("--check", is_flag=True, help="Exit 1 if the committed schema is out of date.")
def schema_cmd(check: bool) -> None:
    """Write the wire contract's JSON Schema (sangsach/contract/sangsach-v1.schema.json)."""
    from .contract import schema

    if check:
        current = schema.SCHEMA_PATH.read_text(encoding="utf-8")
        if current != schema.render():
            _fail(f"{schema.SCHEMA_PATH} is out of date: run `sangsach schema`")
        click.echo("schema up to date")
        return
    schema.write()
    click.echo(f"wrote {schema.SCHEMA_PATH}")


@main.group()
def firmware() -> None:
    """The ESP32 nodes' firmware (docs/firmware.md)."""


@firmware.command("build")
@click.option(
    "--source", type=click.Path(file_okay=False, path_type=Path), default=Path("firmware"),
    show_default=True, help="The firmware folder: boot.py, main.py and lib/*.py.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("build/firmware"),
    show_default=True, help="The bundle folder, replaced whole (it must hold an earlier bundle or nothing).",
)  # fmt: skip
def firmware_build(source: Path, out: Path) -> None:
    """Compile lib/*.py to .mpy (mpy-cross): the bundle that mpremote and updates install."""
    from .firmware_build import MANIFEST, BuildError, build

    try:
        manifest = build(source, out)
    except BuildError as err:
        _fail(str(err))
    files: Any = manifest["files"]
    total = sum(file["size"] for file in files)
    click.echo(
        f"wrote {out}: {len(files)} files, {total} bytes, MicroPython {manifest['micropython']}, "
        f"mpy v{manifest['mpy']}; {out / MANIFEST}"
    )


@firmware.command("release")
@click.option(
    "--bundle", type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("build/firmware"), show_default=True, help="A bundle from `firmware build`.",
)  # fmt: skip
@click.option("--version", "version", required=True, help="Its version, such as 1.2.0.")
def firmware_release(bundle: Path, version: str) -> None:
    """Make a release of a bundle's lib/*.mpy: numbered, its files kept for the nodes."""
    from sangsach.backend.firmware import store

    settings, engine = _backend_database()
    try:
        made = store.create_release(engine, settings.data_dir, bundle, version, time.time())
    except store.FirmwareError as err:
        _fail(str(err))
    size = sum(entry[1] for entry in made.files)
    click.echo(
        f"bản phát hành số {made.number}, phiên bản {made.version} (release {made.number}): "
        f"{len(made.files)} files, {size} bytes, mpy v{made.mpy}"
    )


@firmware.command("rollout")
@click.argument("number", type=click.IntRange(min=1))
@click.option("--device", "devices", multiple=True, help="A device id (repeat for more).")
@click.option("--village", default=None, help="Every device of this village.")
@click.option("--kind", type=click.Choice(["lamp", "bin"]), default=None, help="Every lamp or bin.")
@click.option("--all", "everyone", is_flag=True, help="Every device of the registry.")
def firmware_rollout(
    number: int, devices: tuple[str, ...], village: str | None, kind: str | None, everyone: bool
) -> None:
    """Offer release NUMBER to devices (a signed, retained offer each, through the broker with
    the SANGSACH_MQTT_* account, which must be allowed to write .../update)."""
    from sangsach.backend.firmware import store
    from sangsach.backend.firmware.publisher import PublishError, publish_retained

    settings, engine = _backend_database()
    found = store.release(engine, number)
    if found is None:
        _fail(f"no release {number}: see `sangsach firmware status`")
    try:
        mqtt = load(MqttSettings)
    except SettingsError as err:
        _fail(str(err))
    try:
        chosen = store.select_devices(engine, devices, village, kind, everyone)
        store.start_rollout(
            engine, found, chosen, settings.firmware_key.get_secret_value(),
            settings.firmware_base_url,
            lambda messages: publish_retained(mqtt, messages), time.time(),
        )  # fmt: skip
    except (store.FirmwareError, PublishError) as err:
        _fail(str(err))
    if not settings.firmware_url:
        click.echo(
            "chú ý: chưa đặt SANGSACH_FIRMWARE_URL, thiết bị tải từ 127.0.0.1 "
            "(SANGSACH_FIRMWARE_URL is not set: only a node on this machine can download)",
            err=True,
        )
    click.echo(f"đã gửi bản {found.number} tới {len(chosen)} thiết bị (offered to {len(chosen)})")


@firmware.command("status")
@click.argument("number", type=click.IntRange(min=1), required=False)
def firmware_status(number: int | None) -> None:
    """The releases, and each device's last offered release and what it made of it."""
    from sangsach.backend.firmware import store

    _, engine = _backend_database()
    for made in store.releases(engine):
        day = datetime.fromtimestamp(made.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        click.echo(f"bản {made.number:<4} {made.version:<16} {day} UTC  {len(made.files)} files")
    rows = store.rollouts(engine, number)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
        click.echo(
            f"  {row.device_id:<32} bản {row.number:<4} {row.state:<12} "
            f"chạy (runs) {row.fw or '?':<12} {row.reason}"
        )
    if rows:
        click.echo("  " + ", ".join(f"{state}: {n}" for state, n in sorted(counts.items())))
