"""Hypothesis over every page route's parameters (path, query and form fields, as FastAPI
declares them), signed in as an operator with a session cookie and not signed in at all: no
answer is a 5xx. The API has its own fuzzing (``test_api_fuzz.py``, from the OpenAPI
description); the pages are not in it, so they are walked here from the app's routes, and a
page route added later is fuzzed without touching this file.

Values lean on what broke before (issue 18): periods of any year (``0001-H1``, ``9999``),
days that do not exist, ids of 23 digits, and any text. Derandomised, so that a run is
repeatable; about half a minute."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sangsach.backend.app import create_app
from sangsach.backend.auth.csrf import FIELD
from sangsach.config import BackendSettings
from tests.harness import ADMIN, GATEWAY

EXAMPLES = 100  # per route and caller
# A PDF takes a fraction of a second to lay out; its period is read as the CSV's, fuzzed in full.
PDF_EXAMPLES = 10
SIGN_OUT = "/dang-xuat"


@dataclass(frozen=True)
class PageRoute:
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    form_fields: tuple[str, ...]


def _names(dependant: Dependant, kind: str) -> tuple[str, ...]:
    """The names of a route's ``kind`` parameters (``path_params``, ...), its dependencies'
    included, each once."""
    own = [field.alias for field in getattr(dependant, kind)]
    for sub in dependant.dependencies:
        own.extend(_names(sub, kind))
    return tuple(dict.fromkeys(own))


def page_routes(app: FastAPI) -> list[PageRoute]:
    """Every route of the pages (and sign-in): the routes left out of the OpenAPI description,
    with the parameters FastAPI reads for them, dependencies included."""
    found: list[PageRoute] = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or route.include_in_schema:
            continue
        dependant = route.dependant
        params = (
            _names(dependant, "path_params"),
            _names(dependant, "query_params"),
            _names(dependant, "body_params"),
        )
        found.extend(PageRoute(m, str(route.path), *params) for m in sorted(route.methods or ()))
    return found


YEAR = st.one_of(st.integers(1995, 2105), st.integers(0, 9999))  # around the bounds, and any
NEAR = st.dates(date(1999, 1, 1), date(2101, 12, 31))


def _run(first: date, days: int) -> str:
    return f"{first}..{first + timedelta(days=days)}"


PERIOD = st.one_of(
    st.builds("{:04d}".format, YEAR),
    st.builds("{:04d}-H{}".format, YEAR, st.integers(0, 3)),
    st.builds("{:04d}-{:02d}".format, YEAR, st.integers(0, 13)),
    st.builds(_run, NEAR, st.integers(-3, 420)),  # up to the 400 days' limit and past it
    st.builds("{}..{}".format, st.dates(), st.dates()),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\.\.[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),  # 2026-02-30
)
NUMBER = st.one_of(
    st.integers(0, 5).map(str),  # the ids of the open alerts
    st.integers(-(2**70), 2**70).map(str),  # negative and far beyond 64 bits
    st.from_regex(r"\A[1-9][0-9]{19,24}\Z"),  # beyond 64 bits: SQLite cannot take them
    st.integers(2**62 - 2, 2**63 + 2).map(str),  # around the largest id taken
)
VALUE = st.one_of(
    st.text(max_size=40),
    NUMBER,
    PERIOD,
    st.sampled_from(["", "0", "1", "dong-ha", "lamp-dong-ha-001", "2026-H1", "/", "../..", "%"]),
)


def _leaning(often: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Three times in four ``often``, else any value."""
    return st.integers(0, 3).flatmap(lambda i: VALUE if i == 0 else often)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data = tmp_path_factory.mktemp("pages-fuzz")
    return create_app(
        BackendSettings(data_dir=Path(data), ingest_rate_per_s=0, alert_quiet_hours="")
    )


@pytest.fixture(scope="module")
def admin(app: FastAPI) -> Iterator[TestClient]:
    """Sets the data up: a bin full enough for open alerts (so an id can be acknowledged), a lit
    lamp, and an operator's token."""
    with TestClient(app, headers=ADMIN) as client:
        now = int(time.time())
        readings = [
            {"id": "bin-dong-ha-01", "kind": "bin", "boot": 1, "seq": 1, "ts": now - 600,
             "fill_pct": 97.0, "battery_v": 3.9, "received_at": now - 599.0},
            {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": 1, "ts": now - 300,
             "on": True, "current_a": 0.18, "received_at": now - 299.0},
        ]  # fmt: skip
        body = {"gateway": "gw-1", "readings": readings}
        client.post("/api/v1/ingest", json=body, headers=GATEWAY).raise_for_status()
        assert client.get("/api/v1/alerts").json(), "the fuzzing needs open alerts to act on"
        yield client


@pytest.fixture(scope="module")
def open_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """Pages open to read without signing in (SANGSACH_WEB_OPEN_READ): a caller's values reach
    the pages instead of stopping at the sign-in redirect."""
    data = tmp_path_factory.mktemp("pages-fuzz-open")
    app = create_app(BackendSettings(data_dir=Path(data), web_open_read=True))
    with TestClient(app):  # started, as it is served
        yield app


ADDRESSES = itertools.count()


@dataclass
class Caller:
    client: TestClient
    csrf: str = ""  # the session's form token ("" without a session)
    app: FastAPI | None = None  # without a session: each example from an address of its own

    def for_example(self) -> TestClient:
        """The client of one example. Without a session to keep, a new address each time, so
        that the limit on failed sign-ins (one address's) does not answer 429 to the rest."""
        if self.app is None:
            return self.client
        address = f"192.0.2.{next(ADDRESSES) % 250 + 1}"  # TEST-NET-1
        return TestClient(self.app, client=(address, 50000))


@pytest.fixture(scope="module")
def callers(app: FastAPI, open_app: FastAPI, admin: TestClient) -> Iterator[dict[str, Caller]]:
    token = admin.post("/api/v1/tokens", json={"name": "fuzz", "role": "operator"})
    secret = token.raise_for_status().json()["token"]
    with TestClient(app) as operator:
        signed_in = operator.post("/dang-nhap", data={"ma": secret}, follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        page = operator.get("/canh-bao")
        found = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
        assert found, "a signed-in page carries the session's form token"
        yield {
            "operator": Caller(operator, found.group(1)),
            "anonymous": Caller(TestClient(app), app=app),
            "anonymous, pages open": Caller(TestClient(open_app), app=open_app),
        }


def test_every_page_route_is_fuzzed(app: FastAPI) -> None:
    routes = {(r.method, r.path) for r in page_routes(app)}
    assert {("GET", "/"), ("GET", "/thon/{village_id}"), ("POST", "/canh-bao/{alert_id}/nhan"),
            ("GET", "/bao-cao/{period}.csv"), ("POST", "/dang-nhap")} <= routes  # fmt: skip
    assert len(routes) >= 10


def _fuzz(route: PageRoute, caller: Caller, name: str, villages: list[str]) -> None:
    # The sign-out form with a right token would end the session the rest of the run uses.
    keeps_session = route.path == SIGN_OUT and name == "operator"
    meaning = {
        "ky": _leaning(PERIOD),
        "period": _leaning(PERIOD),
        "alert_id": _leaning(NUMBER),
        "village_id": _leaning(st.sampled_from(villages)),
        FIELD: VALUE if keeps_session or not caller.csrf else _leaning(st.just(caller.csrf)),
    }

    def field(param: str) -> st.SearchStrategy[str]:
        return meaning.get(param, VALUE)

    @given(
        path=st.fixed_dictionaries({p: field(p) for p in route.path_params}),
        query=st.fixed_dictionaries({}, optional={p: field(p) for p in route.query_params}),
        form=st.fixed_dictionaries({p: field(p) for p in route.form_fields}),
    )
    @settings(
        max_examples=PDF_EXAMPLES if route.path.endswith(".pdf") else EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        derandomize=True,
        database=None,
    )
    def no_5xx(path: dict[str, str], query: dict[str, str], form: dict[str, str]) -> None:
        url = route.path.format(**{k: quote(v, safe="") for k, v in path.items()})
        answer = caller.for_example().request(
            route.method,
            url,
            params=query,
            data=form if route.method == "POST" else None,
            follow_redirects=False,
        )
        assert answer.status_code < 500, (route.method, url, query, form, answer.text[:500])

    no_5xx()


@pytest.mark.parametrize("name", ["operator", "anonymous", "anonymous, pages open"])
def test_no_page_answers_5xx(app: FastAPI, callers: dict[str, Caller], name: str) -> None:
    villages = [v.id for v in app.state.services.commune.villages]
    for route in page_routes(app):
        _fuzz(route, callers[name], name, villages)
