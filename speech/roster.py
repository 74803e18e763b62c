"""The speaker roster and the voice-print store: who may speak, and how they sounded before.

A clerk keeps the roster as a spreadsheet (CSV) or YAML: one row per person with ``name``,
``role`` (議長, 市長, ３番, 総務部長…), optionally ``honorific`` (君 by default; some assemblies
print 議員) and ``voice`` (a short recording of that person alone). Parsing is pure
(``parse_roster``) and strict: a duplicate name would make two people indistinguishable in the
minutes, so it is an error naming both rows, not a silent merge.

Voice prints live in ``<data_dir>/voiceprints.json`` (name → role and a 256-float mean
embedding). A voice sample in the roster enrols a print; a speaker the clerk names afterwards
(``remember_speakers``) is enrolled from the session's cluster centroid. Next session the same
name is matched from the store without a sample, which is how "a name given once is remembered".
The store is small, human-readable JSON written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from speech.errors import RosterError

_FIELDS = {"name", "role", "honorific", "voice"}
_ALIASES = {"氏名": "name", "名前": "name", "役職": "role", "敬称": "honorific", "音声": "voice"}


@dataclass(frozen=True)
class RosterEntry:
    """One person who may speak in the meeting."""

    name: str
    role: str | None = None
    honorific: str = "君"
    voice: Path | None = None


@dataclass(frozen=True)
class Roster:
    """The meeting's roster, in the clerk's order (the order of the 出席者 list)."""

    entries: tuple[RosterEntry, ...]

    def names(self) -> tuple[str, ...]:
        """Every name, in order."""
        return tuple(e.name for e in self.entries)

    def get(self, name: str) -> RosterEntry | None:
        """The entry with this name, or ``None``."""
        return next((e for e in self.entries if e.name == name), None)


def _rows_from_text(text: str, suffix: str) -> list[Mapping[str, object]]:
    if suffix in (".yaml", ".yml"):
        data = yaml.safe_load(text) or []
        if isinstance(data, Mapping):
            data = data.get("speakers") or data.get("roster") or []
        if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
            raise RosterError("a YAML roster must be a list of {name, role, voice} entries")
        return list(data)
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def parse_roster(text: str, suffix: str = ".csv", base: Path | None = None) -> Roster:
    """Parse roster text (CSV with a header row, or YAML).

    Args:
        text: File contents.
        suffix: ``.csv``, ``.yaml`` or ``.yml``.
        base: Folder that relative ``voice`` paths are relative to.

    Returns:
        The ``Roster``.

    Raises:
        RosterError: No name column, an empty name, a duplicate name, or no rows.
    """
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for row_no, raw in enumerate(_rows_from_text(text, suffix), start=2):
        row = {_ALIASES.get(str(k).strip(), str(k).strip().lower()): v for k, v in raw.items() if k}
        name = " ".join(str(row.get("name") or "").split())
        if not name:
            raise RosterError(f"roster row {row_no} has no name (columns: name, role, voice)")
        if name in seen:
            raise RosterError(
                f"roster lists {name!r} twice (rows {seen[name]} and {row_no}); "
                "each name must be unique — add a distinguishing character or remove a row"
            )
        seen[name] = row_no
        voice = str(row.get("voice") or "").strip()
        entries.append(
            RosterEntry(
                name=name,
                role=str(row.get("role") or "").strip() or None,
                honorific=str(row.get("honorific") or "君").strip() or "君",
                voice=((base or Path()) / voice) if voice else None,
            )
        )
    if not entries:
        raise RosterError("the roster has no entries (expected rows with at least a name)")
    return Roster(tuple(entries))


def load_roster(path: Path) -> Roster:
    """Read and parse a roster file; voice paths are checked to exist.

    Raises:
        RosterError: Unreadable file, bad contents, or a voice sample that does not exist.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read roster {path}: {exc}") from exc
    try:
        roster = parse_roster(text, path.suffix.lower(), path.parent)
    except (yaml.YAMLError, csv.Error) as exc:
        raise RosterError(f"roster {path} is not valid CSV/YAML: {exc}") from exc
    except RosterError as exc:
        raise RosterError(f"{path.name}: {exc}") from exc
    for entry in roster.entries:
        if entry.voice is not None and not entry.voice.is_file():
            raise RosterError(f"{path.name}: voice sample of {entry.name} not found: {entry.voice}")
    return roster


def load_agenda(path: Path) -> tuple[str, ...]:
    """Terms from an agenda file (one per line; blank lines and ``#`` comments skipped).

    Raises:
        RosterError: The file cannot be read.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read agenda {path}: {exc}") from exc
    return tuple(t for t in (line.strip() for line in lines) if t and not t.startswith("#"))


def hotwords(roster: Roster | None, agenda: Sequence[str] = (), limit: int = 60) -> tuple[str, ...]:
    """Names and roles from the roster, then agenda terms, de-duplicated, at most ``limit``."""
    words: list[str] = []
    if roster is not None:
        for e in roster.entries:
            words += [e.name.replace(" ", "").replace("　", ""), e.role or ""]
    words += list(agenda)
    return tuple(dict.fromkeys(w for w in words if w))[:limit]


@dataclass(frozen=True)
class VoicePrint:
    """A remembered voice: mean unit embedding of a named person."""

    name: str
    role: str | None
    embedding: np.ndarray


class VoicePrintStore:
    """``voiceprints.json`` under the data dir: read on open, written atomically on save."""

    def __init__(self, path: Path) -> None:
        """Use the store file at ``path`` (created on first save)."""
        self.path = path

    def load(self) -> dict[str, VoicePrint]:
        """Every stored print by name (empty if the store does not exist yet).

        Raises:
            RosterError: The store exists but is not valid JSON of the expected shape.
        """
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {
                name: VoicePrint(name, item.get("role"), np.asarray(item["embedding"], np.float32))
                for name, item in data.get("voices", {}).items()
            }
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise RosterError(f"voice-print store {self.path} is unreadable: {exc}") from exc

    def save(self, prints: Mapping[str, VoicePrint]) -> None:
        """Write ``prints`` (replacing the store)."""
        data = {
            "voices": {
                p.name: {"role": p.role, "embedding": [round(float(x), 5) for x in p.embedding]}
                for p in prints.values()
            }
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".voiceprints.", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False)
        os.replace(tmp, self.path)

    def remember(self, new: Sequence[VoicePrint]) -> None:
        """Add or update prints (an existing name's print moves towards the new one)."""
        prints = self.load()
        for p in new:
            old = prints.get(p.name)
            emb = p.embedding if old is None else old.embedding + p.embedding
            emb = emb / max(float(np.linalg.norm(emb)), 1e-9)
            prints[p.name] = VoicePrint(p.name, p.role or (old.role if old else None), emb)
        self.save(prints)


def match_names(
    centroids: np.ndarray, prints: Sequence[VoicePrint], threshold: float
) -> dict[int, VoicePrint]:
    """Assign known voices to clusters: best pairs first, one name per cluster and vice versa.

    Args:
        centroids: ``(k, d)`` unit cluster centroids.
        prints: Candidate voices.
        threshold: Minimum cosine similarity for a name to be given.

    Returns:
        Cluster index → voice print, for the clusters that matched.
    """
    if len(centroids) == 0 or not prints:
        return {}
    known = np.stack([p.embedding for p in prints]).astype(np.float64)
    known /= np.maximum(np.linalg.norm(known, axis=1, keepdims=True), 1e-9)
    sim = centroids.astype(np.float64) @ known.T
    pairs = sorted(
        ((sim[c, p], c, p) for c in range(sim.shape[0]) for p in range(sim.shape[1])), reverse=True
    )
    out: dict[int, VoicePrint] = {}
    used: set[int] = set()
    for score, c, p in pairs:
        if score < threshold:
            break
        if c not in out and p not in used:
            out[c] = prints[p]
            used.add(p)
    return out
