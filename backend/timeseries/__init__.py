"""Where readings and status events are kept: one port, an SQLite and an InfluxDB adapter."""

from .port import TimeSeriesError, TimeSeriesStore, TimeSeriesUnavailable

__all__ = ["TimeSeriesError", "TimeSeriesStore", "TimeSeriesUnavailable"]
