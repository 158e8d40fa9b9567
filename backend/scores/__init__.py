"""Scores: each village's Sáng and Sạch indicators for a period, with coverage, verdicts and the
emulation ranking.

``sang.py`` and ``sach.py`` walk the readings (pure, with the village's thresholds from
``domain.rules``) into the additive parts of ``parts.py``; ``verdict.py`` judges summed parts
and ranks; ``compute.py`` reads the store for them; ``service.py`` makes any period from stored
days plus a live part; ``schedule.py`` and ``late.py`` keep the stored days up to date.
See docs/scores.md.
"""
