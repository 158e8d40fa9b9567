"""Tables of docs/protocol.md rendered from the contract, so the docs cannot drift from it."""

from __future__ import annotations

from .limits import LIMITS, SENSORS
from .rejections import REASON_HELP, Reason

LIMITS_BEGIN = "<!-- limits table: generated from sangsach/contract/limits.py -->"
REASONS_BEGIN = "<!-- reasons table: generated from sangsach/contract/rejections.py -->"
SENSORS_BEGIN = "<!-- sensors table: generated from sangsach/contract/limits.py -->"
END = "<!-- end of generated table -->"


def limits_table() -> str:
    lines = [
        LIMITS_BEGIN,
        "| field | unit | lowest | highest | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, limit in LIMITS.items():
        lines.append(
            f"| `{name}` | {limit.unit} | {limit.low:g} | {limit.high:g} | {limit.meaning} |"
        )
    lines.append(END)
    return "\n".join(lines)


def reasons_table() -> str:
    lines = [REASONS_BEGIN, "| reason | when |", "| --- | --- |"]
    lines += [f"| `{reason}` | {REASON_HELP[reason]} |" for reason in Reason]
    lines.append(END)
    return "\n".join(lines)


def sensors_table() -> str:
    lines = [
        SENSORS_BEGIN,
        "| name | kind | fields it gives | sensor |",
        "| --- | --- | --- | --- |",
    ]
    for name, sensor in SENSORS.items():
        fields = ", ".join(f"`{f}`" for f in sensor.fields.split(", "))
        lines.append(f"| `{name}` | {sensor.kind} | {fields} | {sensor.meaning} |")
    lines.append(END)
    return "\n".join(lines)
