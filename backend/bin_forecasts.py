"""Each bin's fill forecast from its own readings (``backend/forecast.py``), for the API, the
village page and the work lists.

A bin's model is fitted from the last ``HISTORY_DAYS`` of its readings and refitted after
``MODEL_TTL_S``: the rates of a month do not change within the hour. The backend refits them in
the background (``refit_some``, a slice of the bins every minute, oldest models first), so that
reading a month of every bin's readings (a province's 25,000 bins: 14 minutes from InfluxDB,
docs/performance.md) is spread over the hour and a request only reads the bins' latest state; a
request fits a model itself only when it has none or one older than ``MODEL_MAX_AGE_S`` (the
background is behind). The forecast itself starts from the bin's latest reading
(``device_state``), so it moves with every reading.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from babel.dates import format_date
from sqlalchemy import Engine, select

from sangsach.province_file import Province, each_commune
from sangsach.registry_file import Commune
from sangsach.sun import VIETNAM

from . import db
from .domain.rules import Thresholds, bin_full, thresholds_of
from .forecast import HISTORY_DAYS, FillModel, full_at, model_of
from .timeseries.port import TimeSeriesStore

MODEL_TTL_S: Final = 3600.0  # a model is refitted in the background after this
MODEL_MAX_AGE_S: Final = 2 * MODEL_TTL_S  # older than this, a request refits it itself
CHUNK: Final = 200  # bins read at a time


@dataclass(frozen=True, slots=True)
class BinForecast:
    device_id: str
    village_id: str
    place_id: str
    fill_pct: float | None  # latest reading
    read_at: int | None
    rate_pct_per_day: float | None  # the model's average over the week
    full_at: int | None  # None: not within the horizon, or no model yet
    samples: int  # increments the model was fitted on


def weekday_vi(ts: float) -> str:
    """ "thứ Năm", "Chủ nhật": the day of the week of a moment, local time."""
    text = format_date(datetime.fromtimestamp(ts, VIETNAM).date(), "EEEE", locale="vi")
    return text[:1].lower() + text[1:] if text.lower().startswith("thứ") else text


def full_text(forecast: BinForecast, now: float) -> str:
    """What the village page says: "đã đầy", "dự kiến đầy: thứ Năm (hôm nay)", ..."""
    if forecast.full_at is None:
        return "chưa đủ số liệu" if forecast.samples == 0 else "chưa đầy trong 2 tuần tới"
    if forecast.full_at <= now:
        return "đã đầy"
    days = (
        datetime.fromtimestamp(forecast.full_at, VIETNAM).date()
        - datetime.fromtimestamp(now, VIETNAM).date()
    ).days
    when = {0: " (hôm nay)", 1: " (ngày mai)"}.get(days, "")
    if days >= 7:
        when = " (" + datetime.fromtimestamp(forecast.full_at, VIETNAM).strftime("%d/%m") + ")"
    return f"dự kiến đầy: {weekday_vi(forecast.full_at)}{when}"


class BinForecasts:
    def __init__(
        self,
        engine: Engine,
        store: TimeSeriesStore,
        commune: Commune | Province,
        clock: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.thresholds = thresholds_of(commune)
        # each bin's (village, point): plain tuples, not the registry's models (20,000 bins of
        # a province cost 19 MB as models; docs/performance.md, "Memory over several communes")
        self._bins: dict[str, tuple[str, str]] = {
            d.id: (d.village_id, d.place_id)
            for one in each_commune(commune)
            for d in one.devices()
            if d.kind == "bin"
        }
        self._models: dict[str, tuple[float, FillModel | None]] = {}
        self._lock = threading.Lock()

    def bins(self, village_id: str | None = None) -> list[str]:
        return [
            d
            for d, (village, _) in self._bins.items()
            if village_id is None or village == village_id
        ]

    def forecasts(self, device_ids: Sequence[str] | None = None) -> list[BinForecast]:
        """The forecast of each bin (every bin when ``device_ids`` is None), in the order
        given; an id that is not a bin of the registry is left out."""
        now = self.clock()
        ids = [
            i for i in (device_ids if device_ids is not None else self.bins()) if i in self._bins
        ]
        models = self._models_of(ids, now)
        with self.engine.connect() as conn:
            state = db.device_state
            latest = {
                row.device_id: (row.ts, row.values)
                for row in conn.execute(
                    select(state.c.device_id, state.c.ts, state.c["values"]).where(
                        state.c.device_id.in_(ids)
                    )
                )
            }
        found = []
        for device_id in ids:
            village, point = self._bins[device_id]
            ts, values = latest.get(device_id, (None, None))
            fill = (values or {}).get("fill_pct")
            model = models[device_id]
            when = None
            full_pct = self.thresholds[village].bin_full_pct
            if ts is not None and fill is not None:
                if bin_full(float(fill), self.thresholds[village]):
                    when = int(ts)  # full: no model needed to say so
                elif model is not None:
                    when = full_at(model, int(ts), float(fill), full_pct)
            found.append(
                BinForecast(
                    device_id, village, point,
                    None if fill is None else float(fill), ts,
                    None if model is None else round(model.per_day(), 1), when,
                    0 if model is None else model.samples,
                )
            )  # fmt: skip
        return found

    def refit_some(self, interval_s: float) -> int:
        """Refit the share of the bins that, called every ``interval_s``, keeps every model
        younger than about ``MODEL_TTL_S``: the missing and oldest first, none fitted in the
        last half of the TTL. How many were fitted."""
        now = self.clock()
        ids = self.bins()
        per_call = max(1, math.ceil(len(ids) * interval_s / MODEL_TTL_S))
        with self._lock:
            fitted = {i: self._models[i][0] for i in ids if i in self._models}
        due = sorted(
            (i for i in ids if now - fitted.get(i, -math.inf) >= MODEL_TTL_S / 2),
            key=lambda i: fitted.get(i, -math.inf),
        )[:per_call]
        self._fit(due, now)
        return len(due)

    def _models_of(self, ids: list[str], now: float) -> dict[str, FillModel | None]:
        with self._lock:
            fresh = {
                i: self._models[i][1]
                for i in ids
                if i in self._models and now - self._models[i][0] < MODEL_MAX_AGE_S
            }
        fresh.update(self._fit([i for i in ids if i not in fresh], now))
        return fresh

    def _fit(self, stale: list[str], now: float) -> dict[str, FillModel | None]:
        """Fit the models of ``stale`` from their last ``HISTORY_DAYS`` and keep them."""
        fresh: dict[str, FillModel | None] = {}
        start = int(now) - HISTORY_DAYS * 86_400
        for a in range(0, len(stale), CHUNK):
            chunk = stale[a : a + CHUNK]
            series = self.store.series("bin", chunk, ["fill_pct"], start=start, end=int(now) + 1)
            models = fit_models(
                {i: series.get(i, []) for i in chunk},
                lambda i: self.thresholds[self._bins[i][0]],
            )
            fresh.update(models)
            with self._lock:
                self._models.update((i, (now, model)) for i, model in models.items())
        return fresh


def fit_models(
    series: Mapping[str, Sequence[tuple[Any, ...]]], thresholds: Callable[[str], Thresholds]
) -> dict[str, FillModel | None]:
    """Each bin's model from its readings ``(ts, fill_pct)`` as the store's ``series`` gives
    them (oldest first), with the thresholds of its village."""
    return {device_id: model_of(rows, thresholds(device_id)) for device_id, rows in series.items()}
