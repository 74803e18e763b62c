"""The minutes job: one recording in, a folder of exports out.

Order matters for the clerk: everything cheap that can fail (formats, the recording, the output
folder, the model files) is checked before the model loads and minutes of CPU are spent. Outputs
are written into a hidden staging directory inside ``out_dir`` (same filesystem, so the final
``os.replace`` is atomic per file) and moved into place only when every format has been written;
a failure leaves ``out_dir`` as it was. The queue-backed worker will call this same function.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from speech.config import SpeechSettings
from speech.decode import probe_audio
from speech.errors import OutputDirError
from speech.export import DEFAULT_FORMATS, check_formats, write_exports
from speech.layout import build_minutes
from speech.models import ensure_model
from speech.transcribe import ProgressCallback, Transcriber
from speech.types import MeetingInfo, Minutes


@dataclass(frozen=True)
class MinutesResult:
    """What a finished job produced and how long it took."""

    files: tuple[Path, ...]
    minutes: Minutes
    audio_duration: float
    wall_time: float
    transcribe_time: float
    language: str

    @property
    def real_time_factor(self) -> float:
        """Transcription seconds per audio second (0.1 = ten times faster than real time)."""
        return self.transcribe_time / self.audio_duration if self.audio_duration else 0.0


def _prepare_out_dir(out_dir: Path) -> bool:
    """Create ``out_dir`` if needed; return whether it was created here."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputDirError(f"output directory {out_dir} exists and is not a directory")
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(f"cannot create output directory {out_dir}: {exc.strerror}") from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputDirError(f"output directory {out_dir} is not writable")
    return created


def _stage(out_dir: Path) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=".madoguchi-staging-", dir=out_dir))
    except OSError as exc:
        raise OutputDirError(
            f"cannot write into output directory {out_dir}: {exc.strerror}"
        ) from exc


def _publish(staged: list[Path], out_dir: Path) -> tuple[Path, ...]:
    final = []
    for path in staged:
        target = out_dir / path.name
        os.replace(path, target)
        final.append(target)
    return tuple(final)


def _progress_against(total: float, on_progress: ProgressCallback | None) -> ProgressCallback:
    """Report progress against the header duration, so the total never changes mid-run.

    The decoder's length differs from the header's by a few samples after resampling.
    """

    def report(done: float, decoded_total: float) -> None:
        if on_progress is not None:
            finished = decoded_total > 0 and done >= decoded_total
            on_progress(total if finished else min(done, total), total)

    return report


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: someone else is using it, leave it
        directory.rmdir()


def run_minutes_job(
    audio: Path,
    out_dir: Path,
    settings: SpeechSettings,
    formats: Sequence[str] = DEFAULT_FORMATS,
    on_progress: ProgressCallback | None = None,
    meeting: MeetingInfo | None = None,
) -> MinutesResult:
    """Transcribe ``audio`` and write the requested exports into ``out_dir``.

    Args:
        audio: The recording.
        out_dir: Output folder; created if missing. Existing files of the same names are
            replaced, only once all outputs are ready.
        settings: Model and decoding settings.
        formats: Export names from ``speech.export.FORMATS``.
        on_progress: Called with (audio seconds done, total) while transcribing.
        meeting: Header facts; by default the title is the recording's file stem.

    Returns:
        The ``MinutesResult``.

    Raises:
        SpeechError: A subclass naming what was wrong (input, output folder, model, format).
    """
    started = time.perf_counter()
    names = check_formats(formats)
    info = probe_audio(audio)
    report = _progress_against(info.duration, on_progress)
    report(0.0, 0.0)
    ensure_model(settings)
    created = _prepare_out_dir(out_dir)
    staging = _stage(out_dir)
    try:
        transcriber = Transcriber(settings)
        transcriber.warm_up()
        t0 = time.perf_counter()
        transcript = transcriber.transcribe(audio, report)
        transcribe_time = time.perf_counter() - t0
        header = replace(
            meeting or MeetingInfo(title=audio.stem), source=audio.name, duration=info.duration
        )
        minutes = build_minutes(transcript, header)
        files = _publish(write_exports(minutes, staging, audio.stem, names), out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            _remove_if_empty(out_dir)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return MinutesResult(
        files,
        minutes,
        info.duration,
        time.perf_counter() - started,
        transcribe_time,
        transcript.language,
    )
