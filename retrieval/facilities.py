"""The city's facilities (shelters, hospitals, tourist information, city offices) and which
are nearest to a point.

A resident who sends their location on LINE during a typhoon wants the nearest shelter and
how far it is, in their language, at once. The list is small (tens to a few hundred places),
so ``nearest`` is a plain haversine scan: no spatial index to build, nothing to go stale.

File format (``nlu_data/kb/facilities.yml``)::

    facilities:
      - id: shelter-chuo-es
        type: shelter            # shelter | hospital | tourist_info | city_office | wifi_spot
        name: {ja: 霞野中央小学校, en: Kasumino Chuo Elementary School}
        address: {ja: 霞野市中央1-2-3, en: 1-2-3 Chuo, Kasumino}
        lat: 36.0
        lon: 140.0
        district: 中央区
        phone: 0299-00-0000      # optional

Like ``retrieval.kb``, every problem is reported with its file and line, all at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from retrieval.errors import KnowledgeBaseError
from retrieval.kb import LINE_KEY, LineLoader, lang_map

# wifi_spot: the sample city lists its free Wi-Fi places too (useful to visitors).
FACILITY_TYPES: tuple[str, ...] = (
    "shelter",
    "hospital",
    "tourist_info",
    "city_office",
    "wifi_spot",
)
EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


@dataclass(frozen=True)
class Facility:
    """One place residents can be sent to."""

    id: str
    type: str
    name: dict[str, str]
    address: dict[str, str]
    lat: float
    lon: float
    district: str = ""
    phone: str | None = None

    def name_in(self, lang: str) -> str:
        """The name in ``lang``, else English, else Japanese."""
        return _pick(self.name, lang)

    def address_in(self, lang: str) -> str:
        """The address in ``lang``, else English, else Japanese."""
        return _pick(self.address, lang)


@dataclass(frozen=True)
class NearbyFacility:
    """A facility and its great-circle distance from the asker, in metres."""

    facility: Facility
    distance_m: float


@dataclass(frozen=True)
class Facilities:
    """All facilities of one city."""

    items: tuple[Facility, ...]

    def nearest(
        self, lat: float, lon: float, types: Iterable[str] | None = None, k: int = 3
    ) -> list[NearbyFacility]:
        """The ``k`` facilities nearest to (lat, lon), nearest first.

        Args:
            lat: latitude in degrees.
            lon: longitude in degrees.
            types: only these facility types (all types when None).
            k: how many to return.

        Raises:
            ValueError: coordinates out of range, an unknown type, or k < 1.
        """
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"coordinates ({lat}, {lon}) are not a latitude/longitude pair")
        if k < 1:
            raise ValueError(f"k must be at least 1. Currently, k is {k}")
        wanted = set(types) if types is not None else set(FACILITY_TYPES)
        unknown = wanted - set(FACILITY_TYPES)
        if unknown:
            raise ValueError(
                f"unknown facility type(s) {sorted(unknown)}; expected {', '.join(FACILITY_TYPES)}"
            )
        scored = [
            NearbyFacility(f, haversine_m(lat, lon, f.lat, f.lon))
            for f in self.items
            if f.type in wanted
        ]
        scored.sort(key=lambda n: (n.distance_m, n.facility.id))
        return scored[:k]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def load_facilities(path: Path) -> Facilities:
    """Load and validate a facilities file.

    Args:
        path: the YAML file (``nlu_data/kb/facilities.yml`` for the sample city).

    Raises:
        KnowledgeBaseError: every problem, each with file and line.
    """
    problems: list[str] = []
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=LineLoader)  # noqa: S506
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise KnowledgeBaseError([f"{path}:{line}: YAML syntax error: {exc.problem}"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeBaseError([f"{path}:0: cannot read facilities file: {exc}"]) from exc
    raw = data.get("facilities") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise KnowledgeBaseError([f"{path}:1: expected a top-level 'facilities:' list"])
    items: list[Facility] = []
    seen: dict[str, int] = {}
    for item in raw:
        facility = _facility(path, item, problems)
        if facility is None:
            continue
        line = item.get(LINE_KEY, 0)
        if facility.id in seen:
            problems.append(
                f"{path}:{line}: duplicate facility id '{facility.id}' "
                f"(first at line {seen[facility.id]})"
            )
            continue
        seen[facility.id] = line
        items.append(facility)
    if problems:
        raise KnowledgeBaseError(problems)
    return Facilities(tuple(items))


def _facility(path: Path, raw: Any, problems: list[str]) -> Facility | None:
    if not isinstance(raw, dict):
        problems.append(f"{path}:0: a facility must be a mapping, got {type(raw).__name__}")
        return None
    where = f"{path}:{raw.get(LINE_KEY, 0)}"
    fid = str(raw.get("id") or "").strip()
    if not fid:
        problems.append(f"{where}: facility without an 'id'")
        return None
    label = f"facility '{fid}'"
    before = len(problems)
    ftype = str(raw.get("type") or "")
    if ftype not in FACILITY_TYPES:
        problems.append(
            f"{where}: {label} type '{ftype}' is not one of {', '.join(FACILITY_TYPES)}"
        )
    name = lang_map(where, raw.get("name"), f"{label} name", problems)
    address = lang_map(where, raw.get("address"), f"{label} address", problems)
    if "ja" not in name:
        problems.append(f"{where}: {label} needs a Japanese ('ja') name")
    lat = _coordinate(where, raw.get("lat"), f"{label} lat", 90, problems)
    lon = _coordinate(where, raw.get("lon"), f"{label} lon", 180, problems)
    phone = raw.get("phone")
    if len(problems) > before:
        return None
    return Facility(
        id=fid,
        type=ftype,
        name=name,
        address=address,
        lat=lat,
        lon=lon,
        district=str(raw.get("district") or ""),
        phone=str(phone) if phone not in (None, "") else None,
    )


def _coordinate(where: str, raw: Any, what: str, bound: float, problems: list[str]) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.append(f"{where}: {what} must be a number in degrees, got {raw!r}")
        return 0.0
    if not -bound <= raw <= bound:
        problems.append(f"{where}: {what} {raw} is outside -{bound}..{bound}")
        return 0.0
    return float(raw)


def _pick(table: dict[str, str], lang: str) -> str:
    for key in (lang, "ja" if lang == "ja-easy" else "en", "en", "ja"):
        if key in table:
            return table[key]
    return next(iter(table.values()), "")
