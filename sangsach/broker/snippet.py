"""The firmware settings a technician copies into a node's ``settings.json``."""

from __future__ import annotations

import json

from sangsach.registry_file import DeviceRef


def firmware_settings(
    device: DeviceRef,
    password: str,
    *,
    host: str,
    port: int,
    wifi_ssid: str = "",
    ota_key: str = "",
) -> str:
    """The node's identity and broker account as JSON (keys of firmware/lib/settings.py).

    Wi-Fi is left for the technician when not given: the firmware refuses an empty
    ``wifi_ssid`` at start-up with a message that says so.
    """
    settings = {
        "id": device.id,
        "role": device.kind,
        "wifi_ssid": wifi_ssid,
        "wifi_password": "",
        "mqtt_host": host,
        "mqtt_port": port,
        "mqtt_user": device.id,
        "mqtt_password": password,
    }
    if ota_key:  # the node's own key for signed updates (backend/firmware/signing.py)
        settings["ota_key"] = ota_key
    return json.dumps(settings, ensure_ascii=False, indent=2) + "\n"
