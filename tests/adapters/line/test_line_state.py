"""Persistent state: redelivered ids are remembered across restarts and forgotten after the
expiry; the facility list loads, validates with file and line, and finds the nearest places."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.adapters.line.fakes import FACILITIES

from adapters.line.dedupe import SeenEvents
from adapters.line.store import Failure, FailureLog, LineStore, UserLanguages
from retrieval import KnowledgeBaseError
from retrieval.facilities import haversine_m, load_facilities


def test_seen_events_survive_a_restart_and_expire(tmp_path: Path) -> None:
    now = [1000.0]
    store = LineStore(tmp_path / "line.sqlite3")
    seen = SeenEvents(store, ttl_s=60, clock=lambda: now[0])
    assert seen.first_time("E1") and not seen.first_time("E1")
    store.close()
    reopened = SeenEvents(LineStore(tmp_path / "line.sqlite3"), ttl_s=60, clock=lambda: now[0])
    assert not reopened.first_time("E1")
    now[0] += 61
    assert reopened.first_time("E1")


def test_users_and_failures_persist(tmp_path: Path) -> None:
    store = LineStore(tmp_path / "s.sqlite3")
    UserLanguages(store).set("U1", "en")
    UserLanguages(store).set("U1", "vi")
    FailureLog(store).add(
        Failure(1.0, "E1", "U1", "timed out", {"type": "message"}, [{"type": "text"}])
    )
    store.close()
    store = LineStore(tmp_path / "s.sqlite3")
    assert UserLanguages(store).get("U1") == "vi" and UserLanguages(store).get("U2") is None
    (failure,) = FailureLog(store).entries()
    assert failure.reason == "timed out" and failure.event == {"type": "message"}


def test_nearest_facilities_by_haversine() -> None:
    facilities = load_facilities(FACILITIES)
    nearest = facilities.nearest(36.321, 140.1, types=("shelter",), k=2)
    assert [n.facility.id for n in nearest] == ["shelter-kita", "shelter-chuo"]
    assert nearest[0].distance_m == pytest.approx(111, abs=2)
    assert len(facilities.nearest(36.3, 140.1, k=10)) == 5
    # Tokyo station → Osaka station is about 403 km.
    assert haversine_m(35.6812, 139.7671, 34.7025, 135.4959) == pytest.approx(403_000, rel=0.01)
    with pytest.raises(ValueError, match="unknown facility type"):
        facilities.nearest(36.3, 140.1, types=("castle",))


def test_bad_facility_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "facilities.yml"
    bad.write_text(
        "facilities:\n"
        "  - id: a\n    type: castle\n    name: {ja: 城}\n    address: {ja: x}\n"
        "    lat: 95\n    lon: 140\n"
        "  - id: a\n    type: shelter\n    name: {en: No Japanese}\n    address: {xx: y}\n"
        "    lat: 36\n    lon: east\n",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeBaseError) as err:
        load_facilities(bad)
    problems = "\n".join(err.value.problems)
    assert f"{bad}:2: facility 'a' type 'castle'" in problems
    assert "lat 95 is outside" in problems and f"{bad}:8:" in problems
    assert "unknown language code 'xx'" in problems and "lon must be a number" in problems


def test_the_sample_city_facility_list_loads() -> None:
    path = Path(__file__).resolve().parents[3] / "nlu_data" / "kb" / "facilities.yml"
    facilities = load_facilities(path)
    types = {f.type for f in facilities.items}
    assert {"shelter", "hospital", "city_office"} <= types
    first = facilities.items[0]
    (nearest,) = facilities.nearest(first.lat, first.lon, types=(first.type,), k=1)
    assert nearest.facility == first and nearest.distance_m == 0
