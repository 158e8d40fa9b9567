"""Node settings: the defaults below, overridden by ``settings.json`` in the node's flash.

``settings.json`` holds the node's identity and secrets and is never committed; copy
``settings.template.json`` and fill it in. The operational values that the system pushes in the
retained config message (schedule, intervals, thresholds) are only the start-up defaults here.
"""

import json

DEFAULTS = {
    "id": "",  # the registry id: lamp-dong-ha-001, bin-dong-ha-01
    "role": "",  # "lamp" or "bin": which node main.py runs
    "fw": "1.0.0",
    "wifi_ssid": "",
    "wifi_password": "",
    "mqtt_host": "",
    "mqtt_port": 1883,
    "mqtt_user": "",
    "mqtt_password": "",
    "keepalive_s": 60,
    "net_timeout_s": 10,  # socket and PUBACK wait
    "backoff_base_ms": 2000,
    "backoff_cap_ms": 300000,
    "ntp_host": "vn.pool.ntp.org",
    "ntp_interval_s": 3600,  # lamps; a bin resyncs at every send (the RC clock drifts asleep)
    "wdt_timeout_ms": 60000,  # above the longest step: a connect to a silent broker, 5 x 10 s
    "buffer_slots": 500,  # readings kept in flash while the link is down
    "batch_max": 20,  # readings per telemetry message when the buffer is replayed
    "report_interval_s": 300,
    "ota_key": "",  # hex: this node's key for signed updates (sangsach devices add writes it)
    "ota_confirm_s": 600,  # an update on trial that has not reached the broker by then restarts
    # lamp node
    "tick_ms": 1000,
    "sense_interval_s": 10,
    "relay_pin": 26,
    "relay_active_high": True,
    "current_pin": 34,  # ACS712-05B output through a 10k/20k divider
    "current_mv_per_a": 185,
    "current_divider": 1.5,
    "current_samples": 160,
    "current_window_ms": 40,  # two 50 Hz cycles
    "lit_min_a": 0.05,  # below this the lamp draws no current
    "fault_after_s": 60,  # a lamp's driver may take seconds to start
    "i2c_scl": 22,
    "i2c_sda": 21,
    # Used until a config message brings its own (lighting windows only come from there).
    "utc_offset_min": 420,
    "fallback_lux": 20.0,
    "fallback_hold_s": 300,  # least time between two switches decided by the light sensor
    # bin node
    "trig_pin": 5,
    "echo_pin": 18,
    "sensor_power_pin": 19,  # load switch: the ultrasonic sensor draws mA even when idle
    "echo_min_cm": 2,  # nearer is the trigger's ringing; a JSN-SR04T needs 20 (docs/hardware.md)
    "pings": 5,
    "battery_pin": 35,
    "battery_divider": 2.0,
    "onewire_pin": 4,  # DS18B20
    "tilt_sensor": True,  # MPU-6050 on the I2C bus
    "depth_cm": 100.0,
    "full_pct": 80.0,
    "fire_temp_c": 70.0,
    "measure_interval_s": 600,
    "send_interval_s": 3600,
    "awake_budget_s": 45,  # give up sending after this; the readings wait in flash
}

ROLES = ("lamp", "bin")


class SettingsError(ValueError):
    pass


def load(path: str = "settings.json") -> dict:
    try:
        with open(path) as f:
            local = json.load(f)
    except OSError as err:
        raise SettingsError("%s is missing (copy settings.template.json): %s" % (path, err))
    except ValueError as err:
        raise SettingsError("%s is not JSON: %s" % (path, err))
    if not isinstance(local, dict):
        raise SettingsError("%s must hold one JSON object" % path)
    settings = dict(DEFAULTS)
    for key, value in local.items():
        if key not in DEFAULTS:
            raise SettingsError("%s: unknown setting %r" % (path, key))
        check_type(path, key, value)
        settings[key] = value
    check(settings)
    return settings


def check_type(path: str, key: str, value: object) -> None:
    """A value of the default's type: whole numbers where the default is one, a number where it
    is a float (a whole one will do), true or false, text. Stops at start-up with the file and
    the key, rather than fail later where nobody at the pole can see it."""
    default = DEFAULTS[key]
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        kind = "a number"
    else:
        ok, kind = isinstance(value, str), "text"
    if not ok:
        raise SettingsError("%s: %s must be %s, not %r" % (path, key, kind, value))


def check(settings: dict) -> None:
    """Refuse at start-up what would fail later in a way nobody at the pole can see."""
    if settings["role"] not in ROLES:
        raise SettingsError("role must be lamp or bin, not %r" % settings["role"])
    node_id = settings["id"]
    ok = 3 <= len(node_id) <= 48 and node_id[0] != "-" and node_id[-1] != "-"
    if not ok or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in node_id):
        raise SettingsError("id %r is not a registry id such as lamp-dong-ha-001" % node_id)
    for key in ("wifi_ssid", "mqtt_host"):
        if not settings[key]:
            raise SettingsError("%s is empty" % key)
    ota_key = settings["ota_key"]
    hexdigits = "0123456789abcdef"
    if ota_key and (len(ota_key) < 32 or len(ota_key) % 2 or any(c not in hexdigits for c in ota_key)):
        raise SettingsError("ota_key must be at least 32 lowercase hex digits")
    for key in ("buffer_slots", "batch_max"):
        if settings[key] < 1:
            raise SettingsError("%s must be at least 1, not %r" % (key, settings[key]))
