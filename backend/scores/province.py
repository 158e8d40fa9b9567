"""A province's ranking of its communes: each commune's villages' parts added up over the period
(``parts.added``, as the commune's total row of its report) and judged by the province's
formula with the same ``judge`` and ``rank`` as villages. Each commune's own villages keep
their commune's formula; only the communes' comparison uses the province's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sangsach.registry_file import Commune, ScoreFormula

from .parts import added
from .service import PeriodScores, Scores
from .verdict import formula_text, judge, rank


class CommuneView(Protocol):
    commune_id: str
    commune: Commune
    scores: Scores


def communes_period(
    views: Sequence[CommuneView], formula: ScoreFormula, start: int, end: int
) -> PeriodScores:
    """Every commune judged and ranked for [start, end), up to now at most; a result's
    ``village_id`` is the commune's id, its name the commune's."""
    upto = start
    judged = []
    for view in views:
        result = view.scores.period(start, end)
        upto = max(upto, result.upto)
        parts = added(village.parts for village in result.villages)
        judged.append(judge(view.commune_id, view.commune.commune.name, parts, formula))
    ranked = rank(judged) if any(j.parts.measured for j in judged) else []
    by_id = {r.village_id: r for r in ranked}
    shown = [by_id.get(j.village_id, j) for j in judged]
    return PeriodScores(start, end, upto, shown, ranked, formula, formula_text(formula, "xã"))
