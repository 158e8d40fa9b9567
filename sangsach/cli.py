"""The ``sangsach`` command: run the demo, the gateway, the backend or the simulators."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from .config import BackendSettings, GatewaySettings, SettingsError, SimulatorSettings, load
from .registry_file import RegistryFileError, load_registry


def _fail(message: str) -> NoReturn:
    click.echo(f"sangsach: {message}", err=True)
    sys.exit(2)


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


@main.command()
@click.option("--minutes", type=float, default=None, help="Stop after this many minutes.")
@click.option(
    "--speed", type=float, default=60.0, show_default=True, help="Simulated time speed-up."
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
    Gateway(settings).run_forever()


@main.command()
@click.option("-v", "--verbose", is_flag=True)
def backend(verbose: bool) -> None:
    """Serve the REST API (ingest, registry, device state, dead letters) with OpenAPI docs."""
    import uvicorn

    from sangsach.backend.app import create_app
    from sangsach.backend.timeseries.port import TimeSeriesError

    _logging(verbose)
    try:
        settings = load(BackendSettings)
        app = create_app(settings)
    except (SettingsError, RegistryFileError) as err:
        _fail(str(err))
    except TimeSeriesError as err:
        _fail(f"the time-series store ({settings.timeseries}) is not usable: {err}")
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, access_log=verbose)


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
@click.option("--period", required=True, help="2026-H1, 2026-H2 or 2026 (a whole year).")
@click.option("--out", type=click.Path(path_type=Path), default=Path(), show_default=True,
              help="Folder for the CSV and the printable HTML.")  # fmt: skip
def report(period: str, out: Path) -> None:
    """Write the 6-month or yearly report: indicators per village against targets, the
    ranking and alert statistics, as CSV and as a page made for printing (Vietnamese)."""
    from sangsach.backend.reports.build import build_report, render_csv, render_html
    from sangsach.backend.reports.period import PeriodError, parse_period
    from sangsach.backend.services import bootstrap
    from sangsach.backend.timeseries.port import TimeSeriesError

    try:
        chosen = parse_period(period)
        services = bootstrap(load(BackendSettings))
    except (PeriodError, SettingsError, RegistryFileError, TimeSeriesError) as err:
        _fail(str(err))
    try:
        built = build_report(services.engine, services.store, services.commune, chosen)
    finally:
        services.close()
    out.mkdir(parents=True, exist_ok=True)
    for suffix, text in (("csv", render_csv(built)), ("html", render_html(built))):
        path = out / f"bao-cao-{chosen.name}.{suffix}"
        path.write_text(text, encoding="utf-8")
        click.echo(f"đã ghi (written) {path}")


@main.command()
@click.option("--from", "first", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="First local day, YYYY-MM-DD.")  # fmt: skip
@click.option("--to", "last", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="Last local day, YYYY-MM-DD (included).")  # fmt: skip
def rollup(first: datetime, last: datetime) -> None:
    """Compute each village's daily scores and store them (Grafana reads them); recomputing a
    day replaces it."""
    from sangsach.backend.scores.rollup import roll_up
    from sangsach.backend.services import bootstrap
    from sangsach.backend.timeseries.port import TimeSeriesError

    if last < first:
        _fail("--to must not be before --from")
    try:
        services = bootstrap(load(BackendSettings))
    except (SettingsError, RegistryFileError, TimeSeriesError) as err:
        _fail(str(err))
    try:
        written = roll_up(
            services.store, services.commune, first.date(), last.date(), services.census()
        )
    finally:
        services.close()
    click.echo(f"đã tính {written} điểm theo ngày (daily scores written)")


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
