"""What a token or a session scoped to one commune may open (a province of several communes,
``sangsach/province_file.py``).

A commune's office works on its own pages: the overview, its villages, alerts, devices, reports,
work lists and calendar, each showing that commune only (``Services.view``, ``Services.sees``).
Every other route (tokens, gateways, firmware, SMS logs, dead letters, citizens' tickets,
campaigns, the province's page) is the province's: a commune-scoped caller gets 403, so a route
added later is closed to communes until it is made to filter by commune and listed here.
"""

from __future__ import annotations

from typing import Final

COMMUNE_ROUTES: Final = frozenset({
    "/", "/thon/{village_id}", "/thon/{village_id}/dieu-tra",
    "/canh-bao", "/canh-bao/lich-su", "/canh-bao/{alert_id}", "/canh-bao/{alert_id}/nhan",
    "/thiet-bi", "/thiet-bi/{device_id}",
    "/bao-cao", "/bao-cao/{period}.html", "/bao-cao/{period}.csv", "/bao-cao/{period}.pdf",
    "/thu-gom", "/thu-gom/{team_id}/{day}", "/lich",
    "/api/v1/scores", "/api/v1/villages",
})  # fmt: skip

# The cookie in which the province's office keeps the commune it is looking at (not a secret:
# which communes a caller may see is decided by its scope, never by this cookie).
COMMUNE_COOKIE: Final = "xa"


def commune_may_open(route_path: str) -> bool:
    return route_path in COMMUNE_ROUTES
