"""Settings from ``SANGSACH_*`` environment variables: one class per process, checked at start-up.

docs/configuration.md lists every setting; tests/unit/test_config.py fails when it drifts from
these classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self, TypeVar

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .registry_file import SAMPLE_REGISTRY

DEV_INGEST_TOKEN = "dev-ingest-token-change-me"  # noqa: S105 - refused outside development
DEV_WEBHOOK_SECRET = "dev-sms-webhook-secret-change-me"  # noqa: S105 - refused outside development
DEV_ADMIN_TOKEN = "dev-admin-token-change-me"  # noqa: S105 - refused outside development
DEV_FIRMWARE_KEY = "dev-firmware-key-change-me"  # refused outside development
FIRMWARE_KEY_HELP = (
    "secret the nodes' update keys are derived from (each node's ota_key, written by "
    "`sangsach devices add`); changing it orphans every node's key"
)
MIN_SECRET_CHARS = 32
MIN_DISTINCT_CHARS = 10
MAKE_SECRET = "openssl rand -hex 32"  # noqa: S105 - the command, not a secret

Env = Literal["development", "production"]
GATEWAY_ID = r"[A-Za-z0-9_-]{1,32}"
DEFAULT_GATEWAY_ID = "gw-1"
ANY_GATEWAY = "*"
GATEWAY_IDS = rf"^\s*(\*|{GATEWAY_ID}(\s*,\s*{GATEWAY_ID})*)?\s*$"  # a comma list, `*` or empty
REGISTRY_FILE_HELP = (
    "the commune registry file (YAML): villages, devices, teams, census; the backend also "
    "takes a province file listing its communes' registry files (docs/province.md)"
)
INGEST_TOKEN_HELP = "bearer token of the gateways for the ingest API"  # noqa: S105


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANGSACH_", extra="ignore", frozen=True)

    env: Env = Field(
        default="development",
        description="`production` refuses development secrets such as the default ingest token",
    )
    data_dir: Path = Field(
        default=Path("var"), description="where the embedded databases and the spool are kept"
    )


class MqttSettings(_Base):
    mqtt_host: str = Field(default="127.0.0.1", description="MQTT broker host")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="MQTT broker port")
    mqtt_username: str | None = Field(default=None, description="MQTT user name, if required")
    mqtt_password: SecretStr | None = Field(default=None, description="MQTT password")
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive")
    mqtt_tls_ca: Path | None = Field(
        default=None,
        description="CA certificate file (PEM); set, the connection is MQTT over TLS (port 8883)",
    )

    @model_validator(mode="after")
    def _broker_account_in_production(self) -> Self:
        password = self.mqtt_password.get_secret_value() if self.mqtt_password else ""
        if self.env == "production" and not (self.mqtt_username and password):
            raise ValueError(
                "SANGSACH_MQTT_USERNAME and SANGSACH_MQTT_PASSWORD must be set when "
                "SANGSACH_ENV=production: the broker refuses anonymous clients "
                "(`sangsach devices add gateway-<SANGSACH_GATEWAY_ID>`)"
            )
        if self.mqtt_tls_ca is not None and not self.mqtt_tls_ca.is_file():
            raise ValueError(f"SANGSACH_MQTT_TLS_CA: no file at {self.mqtt_tls_ca}")
        return self


class GatewaySettings(MqttSettings):
    gateway_id: str = Field(
        default=DEFAULT_GATEWAY_ID,
        pattern=rf"^{GATEWAY_ID}$",
        description="name of this gateway; also its MQTT client id suffix",
    )
    backend_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8000"), description="where batches are sent"
    )
    ingest_token: SecretStr = Field(
        default=SecretStr(DEV_INGEST_TOKEN), description=INGEST_TOKEN_HELP
    )
    share_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="MQTT shared-subscription group; set it to run several gateways",
    )
    session_expiry_s: int = Field(
        default=7 * 86_400, ge=60, description="how long the broker keeps the session offline"
    )
    receive_maximum: int = Field(
        default=1000, ge=1, le=65535, description="unacknowledged messages in flight, at most"
    )
    window_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024 * 1024,
        description="payload bytes of unacknowledged messages held at most; beyond them the"
        " gateway reads no more until the spool has them (the broker keeps the rest)",
    )
    mqtt_max_packet_bytes: int = Field(
        default=512 * 1024,
        ge=70_000,
        le=268_435_460,
        description="the Maximum Packet Size the gateway announces: the broker sends nothing"
        " larger; keep it above the broker's max_packet_size (256 KiB), so that whatever the"
        " broker takes reaches the gateway (and an oversized payload its dead letters)",
    )
    batch_max: int = Field(
        default=2000, ge=1, le=10_000, description="readings per HTTP batch, at most"
    )
    max_payload_bytes: int = Field(
        default=65_536, ge=256, description="larger messages are rejected as oversized"
    )
    max_future_s: int = Field(
        default=300, ge=0, description="a reading further ahead of the gateway clock is rejected"
    )
    max_age_s: int = Field(
        default=30 * 86_400, ge=60, description="an older reading is rejected as stale"
    )
    dedup_window: int = Field(
        default=200_000, ge=1000, description="reading keys remembered to drop duplicates"
    )
    spool_max_rows: int = Field(
        default=5_000_000,
        ge=1000,
        description="entries spooled (readings, statuses, dead letters) at which intake pauses",
    )
    spool_dir: Path | None = Field(
        default=None,
        description="folder of the spool, e.g. its own partition; empty: the data folder",
    )
    spool_min_free_mb: float = Field(
        default=64.0,
        ge=0,
        description="free disk kept in reserve beside the spool; below it intake pauses"
        " (health file: spool_full)",
    )
    device_rate_per_min: int = Field(
        default=60,
        ge=0,
        description="messages per device and minute, valid or not (a reading counts in the"
        " minute of the device's clock, the rest in the minute it arrived); beyond it they are"
        " folded into one `flood` dead letter per device and minute; 0 turns throttling off",
    )
    retry_max_s: float = Field(
        default=30.0, ge=0.1, description="longest pause between retries to the backend"
    )
    intake_stall_s: float = Field(
        default=60.0,
        ge=1,
        description="messages waiting with nothing committed to the spool for this long: intake"
        " is reported stalled (health file, heartbeat, `GET /api/v1/gateways`)",
    )
    spool_busy_timeout_s: float = Field(
        default=30.0,
        ge=1,
        description="how long a write to the spool waits while another process holds its lock"
        " (SQLite's busy timeout); past it the intake thread dies and the gateway exits 1",
    )
    health_every_s: float = Field(
        default=2.0,
        ge=0.1,
        le=60,
        description="how often the gateway rewrites its health file and checks its threads",
    )

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> Self:
        _refuse_dev_token(self.env, self.ingest_token)
        return self

    @property
    def spool_path(self) -> Path:
        return (self.spool_dir or self.data_dir) / f"spool-{self.gateway_id}.sqlite"

    @property
    def health_path(self) -> Path:
        return self.data_dir / f"gateway-{self.gateway_id}.json"


class BackendSettings(_Base):
    http_host: str = Field(default="127.0.0.1", description="address the API listens on")
    http_port: int = Field(default=8000, ge=1, le=65535, description="port the API listens on")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the registry database; empty: SQLite in data_dir",
    )
    registry_file: Path = Field(default=SAMPLE_REGISTRY, description=REGISTRY_FILE_HELP)
    timeseries: Literal["sqlite", "influxdb"] = Field(
        default="sqlite", description="time-series store: embedded SQLite or InfluxDB"
    )
    influx_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8086"), description="InfluxDB v1 HTTP API"
    )
    influx_db: str = Field(
        default="sangsach", pattern=r"^[A-Za-z0-9_]{1,64}$", description="InfluxDB database"
    )
    influx_username: str | None = Field(default=None, description="InfluxDB user, if any")
    influx_password: SecretStr | None = Field(default=None, description="InfluxDB password")
    ingest_token: SecretStr = Field(
        default=SecretStr(DEV_INGEST_TOKEN), description=INGEST_TOKEN_HELP
    )
    admin_token: SecretStr = Field(
        default=SecretStr(DEV_ADMIN_TOKEN),
        description="bearer token with the admin role, to sign in and to issue further tokens "
        "(`sangsach tokens add`); empty (development only): admins come from the token table",
    )
    web_open_read: bool = Field(
        default=False,
        description="true: the web pages may be read without signing in (the office LAN); "
        "acknowledging still needs an operator",
    )
    session_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="a web session ends this long after signing in (signing out ends it at once)",
    )
    public_url: str = Field(
        default="",
        pattern=r"^(https?://[^\s/]+(/\S*)?)?$",
        description="the address users open, e.g. `https://sangsach.example.vn`; https: the "
        "session cookie is sent only over https (`Secure`)",
    )
    trusted_proxies: str = Field(
        default="127.0.0.1",
        description="addresses of reverse proxies whose X-Forwarded-For/-Proto are believed "
        "(comma list, `*` for any); the client address counts failed sign-ins",
    )
    auth_failures_burst: int = Field(
        default=10,
        ge=0,
        description="failed sign-ins, tokens or webhook signatures one address may make in a "
        "row before it is refused (429); 0 turns the limit off",
    )
    auth_failures_per_min: float = Field(
        default=6.0,
        gt=0,
        description="after that, one more attempt allowed per 60/this seconds",
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024 * 1024,
        description="largest request body; a larger one gets 413 before it is read",
    )
    ingest_rate_per_s: float = Field(
        default=5000.0,
        ge=0,
        description="messages per second one gateway may ingest (readings, statuses and "
        "rejections); more get 429 with Retry-After; 0 turns the limit off",
    )
    ingest_burst: int = Field(
        default=100_000, ge=1, description="messages a gateway may ingest at once above the rate"
    )
    ingest_gateway_ids: str = Field(
        default="",
        pattern=GATEWAY_IDS,
        description="the gateway ids (`SANGSACH_GATEWAY_ID`) that `SANGSACH_INGEST_TOKEN` may "
        "speak for, a comma list; `*` any (development only); empty: any in development, "
        f"`{DEFAULT_GATEWAY_ID}` in production. An issued gateway token speaks for the id it is"
        " named after",
    )
    sms_provider: Literal["outbox", "http"] = Field(
        default="outbox",
        description="`outbox`: SMS are only logged and listed by the API; `http`: a carrier's HTTP API",
    )
    sms_encoding: Literal["gsm7", "ucs2"] = Field(
        default="gsm7",
        description="`gsm7`: Vietnamese without diacritics, 160 characters; `ucs2`: with diacritics, 70",
    )
    sms_http_url: AnyHttpUrl | None = Field(
        default=None, description="the carrier's send URL (with `SANGSACH_SMS_PROVIDER=http`)"
    )
    sms_http_method: Literal["POST", "PUT"] = Field(
        default="POST", description="HTTP method of the carrier's send API"
    )
    sms_http_auth_header: SecretStr | None = Field(
        default=None,
        description="header sent with every SMS request, as `Name: value`, e.g. `Authorization: Bearer ...`",
    )
    sms_http_body_template: str = Field(
        default='{"to": "{to}", "text": "{body}", "reference": "{id}"}',
        description="JSON body of an SMS request; `{to}`, `{body}` and `{id}` are filled in, JSON-escaped",
    )
    sms_http_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="timeout of one request to the carrier"
    )
    sms_retry_min_s: float = Field(
        default=15.0, ge=0.1, description="first pause before an SMS is tried again; it doubles"
    )
    sms_retry_max_s: float = Field(
        default=600.0, ge=1, description="longest pause between attempts to send one SMS"
    )
    sms_webhook_secret: SecretStr = Field(
        default=SecretStr(DEV_WEBHOOK_SECRET),
        description="shared secret of the inbound SMS webhook: the carrier signs each call with"
        " it (`X-Sangsach-Timestamp`, `X-Sangsach-Signature`)",
    )
    sms_webhook_max_skew_s: int = Field(
        default=300,
        ge=10,
        le=3600,
        description="a webhook call whose `X-Sangsach-Timestamp` is further from our clock is "
        "refused; signatures are remembered this long against replays",
    )
    sms_office_phones: list[Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$")]] = Field(
        default_factory=list,
        description='commune office numbers that get escalations and may reply, a JSON list: `["+84..."]`',
    )

    gateway_sms_per_window: int = Field(
        default=2,
        ge=1,
        le=100,
        description="SMS about one gateway's state (spool full, resolved) per office phone within"
        " `SANGSACH_GATEWAY_SMS_WINDOW_S`; further changes are recorded, and texted once the"
        " window allows",
    )
    gateway_sms_window_s: int = Field(
        default=1800,
        ge=60,
        le=86_400,
        description="the window of `SANGSACH_GATEWAY_SMS_PER_WINDOW`",
    )

    alert_tick_s: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="how often silence, reminders and escalation are judged",
    )
    alert_quiet_hours: str = Field(
        default="21:00-06:00",
        pattern=r"^(([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d)?$",
        description="local time when only critical SMS are sent, `HH:MM-HH:MM`; empty: none",
    )
    alert_reminder_s: int = Field(
        default=7200, ge=60, description="reminder interval while an alert is unacknowledged"
    )
    alert_escalate_head_s: int = Field(
        default=4 * 3600,
        ge=60,
        description="an unacknowledged alert goes to the village head after",
    )
    alert_escalate_office_s: int = Field(
        default=12 * 3600, ge=60, description="... and to the commune office after"
    )
    alert_max_sms_per_hour: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="SMS per recipient per hour; more wait, folded into a digest",
    )
    worklist_time: str = Field(
        default="05:30",
        pattern=r"^(([01]\d|2[0-3]):[0-5]\d)?$",
        description="local time each collection crew gets its day's work list by SMS, `HH:MM`; "
        "empty: none sent (the pages and API still show the lists)",
    )
    worklist_route_time_limit_s: float = Field(
        default=0.0,
        ge=0,
        le=60,
        description="seconds of OR-Tools' guided local search per work list's route; 0: its "
        "greedy descent, which stops by itself",
    )
    dead_letter_retention_days: float = Field(
        default=90,
        gt=0,
        description="dead letters older than this are deleted (checked every hour)",
    )
    dead_letter_max_mb: float = Field(
        default=512,
        gt=0,
        description="text kept in dead letters (payloads and details) beyond which the oldest"
        " are deleted",
    )
    rollup_catch_up_days: int = Field(
        default=7,
        ge=0,
        le=400,
        description="at start, daily scores of up to this many past days are computed if missing",
    )
    firmware_key: SecretStr = Field(
        default=SecretStr(DEV_FIRMWARE_KEY), description=FIRMWARE_KEY_HELP
    )
    firmware_url: str = Field(
        default="",
        pattern=r"^(https?://[^\s/]+)?$",
        description="address the nodes download updates from, as they reach the backend "
        "(http://192.168.1.10:8000); empty: http://127.0.0.1:<SANGSACH_HTTP_PORT>",
    )
    rollup_delay_s: int = Field(
        default=900,
        ge=0,
        le=6 * 3600,
        description="the day just ended is rolled up this long after local midnight",
    )

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> Self:
        _refuse_dev_token(self.env, self.ingest_token)
        admin = self.admin_token.get_secret_value()
        if self.env == "production":
            if admin == DEV_ADMIN_TOKEN or not admin:
                raise ValueError(
                    "SANGSACH_ADMIN_TOKEN must be set to a secret of your own when "
                    f"SANGSACH_ENV=production (make one with `{MAKE_SECRET}`)"
                )
            _refuse_weak("SANGSACH_ADMIN_TOKEN", admin)
        if admin and admin == self.ingest_token.get_secret_value():
            raise ValueError("SANGSACH_ADMIN_TOKEN and SANGSACH_INGEST_TOKEN must differ")
        return self

    @model_validator(mode="after")
    def _sms_settings_usable(self) -> Self:
        secret = self.sms_webhook_secret.get_secret_value()
        if self.env == "production" and secret in ("", DEV_WEBHOOK_SECRET):
            raise ValueError(
                "SANGSACH_SMS_WEBHOOK_SECRET must be set to a secret of your own "
                "when SANGSACH_ENV=production"
            )
        if self.env == "production":
            _refuse_weak("SANGSACH_SMS_WEBHOOK_SECRET", secret)
        if self.sms_provider == "http" and self.sms_http_url is None:
            raise ValueError("SANGSACH_SMS_HTTP_URL must be set when SANGSACH_SMS_PROVIDER=http")
        return self

    @model_validator(mode="after")
    def _gateway_ids_in_production(self) -> Self:
        if self.env == "production" and ANY_GATEWAY in self.ingest_gateway_id_list:
            raise ValueError(
                "SANGSACH_INGEST_GATEWAY_IDS=* is refused when SANGSACH_ENV=production: name the"
                " gateways that use SANGSACH_INGEST_TOKEN (e.g. gw-1,gw-2), or issue each its"
                " own token (`sangsach tokens add --name <its gateway id> --role gateway`)"
            )
        return self

    @property
    def ingest_gateway_id_list(self) -> frozenset[str]:
        """The gateway ids the settings' ingest token speaks for; ``*``: any."""
        ids = frozenset(i.strip() for i in self.ingest_gateway_ids.split(",") if i.strip())
        if ids:
            return ids
        return frozenset({DEFAULT_GATEWAY_ID if self.env == "production" else ANY_GATEWAY})

    @model_validator(mode="after")
    def _influx_account_in_production(self) -> Self:
        password = self.influx_password.get_secret_value() if self.influx_password else ""
        if self.env == "production" and self.timeseries == "influxdb" and not password:
            raise ValueError(
                "SANGSACH_INFLUX_USERNAME and SANGSACH_INFLUX_PASSWORD must be set when "
                "SANGSACH_ENV=production: InfluxDB runs with authentication on"
            )
        return self

    @property
    def firmware_base_url(self) -> str:
        """Where the nodes download updates from (SANGSACH_FIRMWARE_URL, or this machine)."""
        return self.firmware_url or f"http://127.0.0.1:{self.http_port}"

    @property
    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'sangsach.sqlite'}"

    @model_validator(mode="after")
    def _firmware_key_in_production(self) -> Self:
        _refuse_dev_firmware_key(self.env, self.firmware_key)
        return self


class SimulatorSettings(MqttSettings):
    registry_file: Path = Field(default=SAMPLE_REGISTRY, description=REGISTRY_FILE_HELP)


class DevicesSettings(_Base):
    registry_file: Path = Field(default=SAMPLE_REGISTRY, description=REGISTRY_FILE_HELP)
    broker_auth_dir: Path | None = Field(
        default=None,
        description="folder of the broker's password file and ACL; empty: `broker` in data_dir",
    )
    device_mqtt_host: str = Field(
        default="", description="broker address the nodes use, written into their settings snippet"
    )
    device_mqtt_port: int = Field(
        default=1883, ge=1, le=65535, description="broker port the nodes use"
    )
    firmware_key: SecretStr = Field(
        default=SecretStr(DEV_FIRMWARE_KEY), description=FIRMWARE_KEY_HELP
    )

    @model_validator(mode="after")
    def _firmware_key_in_production(self) -> Self:
        _refuse_dev_firmware_key(self.env, self.firmware_key)
        return self

    @property
    def auth_dir(self) -> Path:
        return self.broker_auth_dir or self.data_dir / "broker"


def _refuse_dev_firmware_key(env: Env, key: SecretStr) -> None:
    if env == "production" and key.get_secret_value() in ("", DEV_FIRMWARE_KEY):
        raise ValueError(
            "SANGSACH_FIRMWARE_KEY must be set to a secret of your own when "
            f"SANGSACH_ENV=production (make one with `{MAKE_SECRET}`)"
        )
    if env == "production":
        _refuse_weak("SANGSACH_FIRMWARE_KEY", key.get_secret_value())


def _refuse_dev_token(env: Env, token: SecretStr) -> None:
    if env == "production" and token.get_secret_value() in ("", DEV_INGEST_TOKEN):
        raise ValueError(
            "SANGSACH_INGEST_TOKEN must be set to a secret of your own when SANGSACH_ENV=production"
        )
    if env == "production":
        _refuse_weak("SANGSACH_INGEST_TOKEN", token.get_secret_value())


def secret_weakness(value: str) -> str | None:
    """Why ``value`` is too weak to guard a production installation, or None.

    Length is not enough: sixteen ``a`` or a word repeated are long and guessable. A secret made
    by a generator (``openssl rand -hex 32``, ``secrets.token_urlsafe(32)``) passes all checks.
    """
    if len(value) < MIN_SECRET_CHARS:
        return f"it has {len(value)} characters, at least {MIN_SECRET_CHARS} random ones are needed"
    if len(set(value)) < MIN_DISTINCT_CHARS:
        return f"it uses {len(set(value))} different characters: it is not random"
    for period in range(1, len(value) // 2 + 1):
        if all(value[i] == value[i % period] for i in range(len(value))):
            return f"it repeats a pattern of {period} characters"
    if max(value.count(c) for c in set(value)) * 4 > len(value):
        return "one character makes up more than a quarter of it: it is not random"
    return None


def _refuse_weak(variable: str, value: str) -> None:
    weakness = secret_weakness(value)
    if weakness:
        raise ValueError(
            f"{variable} is too weak for SANGSACH_ENV=production: {weakness} "
            f"(make one with `{MAKE_SECRET}`)"
        )


ALL_SETTINGS: tuple[type[_Base], ...] = (
    GatewaySettings,
    BackendSettings,
    SimulatorSettings,
    DevicesSettings,
)


class SettingsError(Exception):
    """An invalid setting; the message names the environment variable."""


T = TypeVar("T", bound=_Base)


def load(cls: type[T], **overrides: object) -> T:
    """Build settings from the environment, or raise SettingsError naming each bad variable."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        lines = []
        for error in err.errors():
            if not error["loc"]:  # a check across settings: its message names the variables
                reason = error["msg"].removeprefix("Value error, ")
                lines.append(f"invalid settings: {reason}")
                continue
            field = ".".join(str(part) for part in error["loc"])
            lines.append(f"invalid setting SANGSACH_{field.upper()}: {error['msg']}")
        raise SettingsError("\n".join(lines)) from err
