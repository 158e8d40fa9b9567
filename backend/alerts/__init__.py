"""Alerts: conditions decided by pure rules, an alert lifecycle, notifications by SMS.

``rules.py`` tracks each device and says which conditions hold at a moment; ``lifecycle.py``
turns conditions into opened, reminded, escalated and cleared alerts; ``engine.py`` does the
I/O around them (SQL, time series, the SMS outbox).
"""
