"""run_simulation refuses impossible runs before it touches the network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.simulators.run import run_simulation

COMMUNE = load_registry(SAMPLE_REGISTRY)
NOWHERE_PORT = 9  # nothing listens there: the run must fail before it connects


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"hours": 0}, "hours must be positive"),
        ({"hours": 1, "speed": 0}, "speed must be positive"),
        ({"start": datetime(2019, 12, 31, tzinfo=UTC)}, "before 2020"),
        ({"start": datetime.now(UTC) + timedelta(hours=1)}, "in the future"),
        ({"start": datetime(2025, 1, 1)}, "timezone-aware"),
        ({"hours": 1, "bad_rate": 1.0}, "bad_rate"),
    ],
)
def test_refuses_impossible_runs(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_simulation(COMMUNE, host="127.0.0.1", port=NOWHERE_PORT, **arguments)
