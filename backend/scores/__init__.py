"""Scores: each village's Sáng % and Sạch indicators for a period, and the emulation ranking.

Pure functions of their arguments (no I/O, no clock: times are Unix seconds), so the report,
the API and Grafana's write-back all compute the same numbers. ``sang.py`` scores the lamps,
``sach.py`` the bins and the census, ``ranking.py`` ranks villages; ``model.py`` holds the
shared timeline rule (a reading holds until the next one, but only while fresh).
See docs/scores.md.
"""
