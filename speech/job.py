"""The minutes job: one recording in, a folder of exports out, resumable chunk by chunk.

Order matters for the clerk: everything cheap that can fail (formats, the recording, the roster,
the agenda, the 整文 rules, the output folder, the model files) is checked before the model loads
and minutes of CPU are spent. The recording is then decoded as a stream of chunks
(``decode.stream_chunks``); per chunk: VAD once → Whisper on the speech → embedding windows →
speaker embeddings → a checkpoint in the job folder (``checkpoint.JobDir``). A killed run
restarts, finds the checkpoints and continues where it stopped. After the last chunk the
session's speakers are settled (``diarize``), named from the roster's voices and the voice-print
store (``roster``), the text is cleaned (``clean``) and laid out (``layout``/``export``).

Outputs are written into a hidden staging directory inside ``out_dir`` (same filesystem, so the
final ``os.replace`` is atomic per file) and moved into place only when every format has been
written; a failure leaves ``out_dir`` as it was. The clerk web app and the queue worker call this
same function with their own job folder and progress callback.

Where the time goes (5-minute slice of the benchmark meeting, CPU seconds of the process, 2
shared cores, session 2): Whisper 48.9 s, speaker embeddings 2.9 s, Silero VAD 0.8 s,
clustering, 整文 and all five exports 0.2 s together — Whisper is 92 %. The roster's and
agenda's hotwords cost about 15 % of Whisper's time (44.2 s without) and buy the CER (0.116 →
0.086 on the slice). faster-whisper's ``BatchedInferencePipeline`` was tried and left out:
35–41 s but CER 0.18 (no temperature fallback, and a window the model stops early in is not
re-decoded, so whole sentences went missing); beam 1 was 36 s at CER 0.126.

Both cores (session 3): one two-thread CTranslate2 model kept ~1.3 of the 2 cores busy, and
VAD, embeddings and decoding ran in between. Now two one-thread Whisper workers decode two
chunks at once (the next chunk's decoding, VAD and Whisper start while this chunk's embeddings
run), or, with ``piece_seconds``, pieces of one chunk. On the 8-minute dev meeting: 68–72
CPU-s, two busy Whisper threads (34 + 28 CPU-s). With 120-s pieces on the 5-minute slice at
load 1.4: 26.8 s wall (11.2× real time), 44.9 CPU-s, 1.7 cores busy. One-thread workers are
also cheaper per audio second: the same 150 s took 19.4 CPU-s instead of 24.1 with two
threads (thread hand-off on small matrices).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import string
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from speech.checkpoint import ChunkResult, JobDir, audio_identity, default_job_dir, fingerprint
from speech.clean import clean_segments, load_rules
from speech.config import SpeechSettings
from speech.decode import AudioChunk, check_duration, load_audio, probe_audio, stream_chunks
from speech.diarize import (
    CentroidTracker,
    attribute,
    finalize_labels,
    normalize_rows,
    span_groups,
)
from speech.embed import VoiceEncoder
from speech.errors import (
    AudioTooLongError,
    EmptyAudioError,
    NoSpeechError,
    NotAudioError,
    OutputDirError,
    SpeechError,
)
from speech.export import DEFAULT_FORMATS, check_formats, write_exports
from speech.models import ensure_model
from speech.roster import (
    Roster,
    VoicePrint,
    VoicePrintStore,
    hotwords,
    load_agenda,
    load_roster,
    match_names,
)
from speech.transcribe import PendingTranscript, ProgressCallback, Transcriber
from speech.types import MeetingInfo, Minutes, Segment, Speaker
from speech.vad import Span, detect_speech, shift, windows


@dataclass(frozen=True)
class JobOptions:
    """What a clerk can say about one job beyond the settings."""

    roster: Path | None = None
    agenda: Path | None = None
    speakers: int | None = None
    job_dir: Path | None = None
    timestamps: bool = False


@dataclass(frozen=True)
class MinutesResult:
    """What a finished job produced and how long it took."""

    files: tuple[Path, ...]
    minutes: Minutes
    audio_duration: float
    wall_time: float
    transcribe_time: float
    language: str
    job_dir: Path | None = None
    resumed_chunks: int = 0

    @property
    def real_time_factor(self) -> float:
        """Processing seconds per audio second (0.1 = ten times faster than real time)."""
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
        if created:
            _remove_if_empty(out_dir)
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
    """Report progress against the header duration, never going backwards or past the end."""
    reached = [0.0]

    def report(done: float, decoded_total: float) -> None:
        if on_progress is None:
            return
        finished = decoded_total > 0 and done >= decoded_total
        value = total if finished else min(max(done, reached[0]), total)
        reached[0] = value
        on_progress(value, total)

    return report


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: someone else is using it, leave it
        directory.rmdir()


def speaker_ids(n: int) -> list[str]:
    """``A, B, …, Z, AA, AB, …``: the ids of ``n`` speakers in order of first appearance."""
    letters = string.ascii_uppercase
    out = []
    for i in range(n):
        label, k = "", i
        while True:
            label = letters[k % 26] + label
            k = k // 26 - 1
            if k < 0:
                break
        out.append(label)
    return out


@dataclass(eq=False)
class _InFlight:
    """A chunk whose speech Whisper is decoding in the background."""

    chunk: AudioChunk
    speech: tuple[Span, ...]
    heard: PendingTranscript


class _ChunkProcessor:
    """Per-chunk work with lazily loaded models: VAD → Whisper (background) → embeddings.

    ``start`` finds a chunk's speech and hands it to Whisper's worker threads; ``finish``
    computes the speaker embeddings meanwhile, then waits for the text. The job starts chunk
    N + 1 before finishing chunk N, so the workers never wait for VAD, embeddings or decoding.
    """

    def __init__(self, settings: SpeechSettings, words: tuple[str, ...]) -> None:
        self.settings = settings
        self.hotwords = words
        self.transcriber = Transcriber(settings)
        self.encoder = VoiceEncoder(settings.speaker_model_path)
        self._started: list[_InFlight] = []

    def start(self, chunk: AudioChunk, language: str | None) -> _InFlight:
        speech = detect_speech(chunk.samples)
        heard = self.transcriber.submit_chunk(chunk, speech, self.hotwords, language)
        job = _InFlight(chunk, speech, heard)
        self._started.append(job)
        return job

    def finish(self, job: _InFlight, report: Callable[[float], None]) -> ChunkResult:
        chunk = job.chunk
        wins = windows(job.speech) if self.settings.diarize else ()
        emb = self.encoder.embed_windows([_cut(chunk, w) for w in wins])
        heard = job.heard.result(on_segment=report)
        self._started.remove(job)
        return ChunkResult(
            chunk.index,
            chunk.start,
            chunk.end,
            heard.segments,
            shift(wins, chunk.start),
            emb,
            heard.language,
            sum(s.duration for s in job.speech),
        )

    def close(self) -> None:
        """Drop work not yet started and stop the worker threads."""
        for job in self._started:
            job.heard.cancel()
        self._started.clear()
        self.transcriber.close()


def _cut(chunk: AudioChunk, span) -> np.ndarray:
    return chunk.samples[int(span.start * 16_000) : int(span.end * 16_000)]


def voice_print(path: Path, encoder: VoiceEncoder, name: str, role: str | None) -> VoicePrint:
    """Enrol a voice from a sample recording of one person.

    Raises:
        NoSpeechError: The sample holds no usable speech.
    """
    samples = load_audio(path)
    wins = windows(detect_speech(samples))
    if not wins:
        raise NoSpeechError(f"voice sample {path.name} of {name} holds no speech (≥ 0.6 s needed)")
    emb = encoder.embed_windows([samples[int(w.start * 16_000) : int(w.end * 16_000)] for w in wins])
    return VoicePrint(name, role, normalize_rows(emb.mean(axis=0, keepdims=True))[0])


def _candidates(
    roster: Roster | None, store: VoicePrintStore, encoder: VoiceEncoder
) -> tuple[list[VoicePrint], list[VoicePrint]]:
    """Voices that may be named: (all candidates, newly enrolled from samples)."""
    stored = store.load()
    if roster is None:
        return list(stored.values()), []
    enrolled = [voice_print(e.voice, encoder, e.name, e.role) for e in roster.entries if e.voice]
    fresh = {p.name for p in enrolled}
    remembered = [
        replace(stored[e.name], role=e.role or stored[e.name].role)
        for e in roster.entries
        if e.name in stored and e.name not in fresh
    ]
    return enrolled + remembered, enrolled


def _settle_speakers(
    chunks: Sequence[ChunkResult],
    settings: SpeechSettings,
    options: JobOptions,
    roster: Roster | None,
    encoder: VoiceEncoder,
) -> tuple[tuple[Speaker, ...], tuple[Segment, ...], dict[str, np.ndarray]]:
    segments = [s for c in chunks for s in c.segments]
    wins = [w for c in chunks for w in c.windows]
    if not settings.diarize or not wins:
        return (Speaker("A"),), tuple(replace(s, speaker="A") for s in segments), {}
    tracker = CentroidTracker(settings.speaker_threshold)
    running = np.concatenate([_track(tracker, c) for c in chunks])
    emb = np.concatenate([c.embeddings for c in chunks])
    max_n = len(roster.entries) if roster else None
    labels, cents = finalize_labels(
        emb, running, options.speakers, max_n, settings.speaker_threshold, reliable=running >= 0
    )
    ids = speaker_ids(len(cents))
    store = VoicePrintStore(settings.data_dir / "voiceprints.json")
    candidates, enrolled = _candidates(roster, store, encoder)
    named = match_names(cents, candidates, settings.enroll_threshold)
    if enrolled:
        store.remember(enrolled)
    speakers = []
    for k, sid in enumerate(ids):
        hit = named.get(k)
        entry = roster.get(hit.name) if roster and hit else None
        speakers.append(
            Speaker(
                sid,
                hit.name if hit else None,
                (entry.role if entry else None) or (hit.role if hit else None),
                entry.honorific if entry else "君",
            )
        )
    attributed = attribute(segments, wins, labels.tolist(), ids)
    return tuple(speakers), attributed, {sid: cents[k] for k, sid in enumerate(ids)}


# Windows shorter than this (a lone 「市長。」) embed too unreliably to shape a speaker's voice:
# on the benchmark they formed a "second chair". They are labelled by their nearest speaker.
_RELIABLE_WINDOW_S = 1.4


def _track(tracker: CentroidTracker, chunk: ChunkResult) -> np.ndarray:
    """Running labels of one chunk's windows; ``-1`` for windows too short to be trusted."""
    labels = np.full(len(chunk.windows), -1, dtype=int)
    full = np.array([w.duration >= _RELIABLE_WINDOW_S for w in chunk.windows], dtype=bool)
    if full.any():
        groups = span_groups(chunk.windows)[full]
        labels[full] = tracker.add_chunk(chunk.embeddings[full], groups)
    return labels


def _attendees(roster: Roster | None) -> tuple[str, ...]:
    if roster is None:
        return ()
    return tuple(f"{e.role}　{e.name}" if e.role else e.name for e in roster.entries)


def _check_options(options: JobOptions) -> tuple[Roster | None, tuple[str, ...]]:
    if options.speakers is not None and options.speakers < 1:
        raise SpeechError(f"--speakers must be at least 1, got {options.speakers}")
    roster = load_roster(options.roster) if options.roster else None
    agenda = load_agenda(options.agenda) if options.agenda else ()
    return roster, agenda


def run_minutes_job(
    audio: Path,
    out_dir: Path,
    settings: SpeechSettings,
    formats: Sequence[str] = DEFAULT_FORMATS,
    on_progress: ProgressCallback | None = None,
    meeting: MeetingInfo | None = None,
    options: JobOptions | None = None,
) -> MinutesResult:
    """Transcribe ``audio``, name its speakers and write the requested exports into ``out_dir``.

    Args:
        audio: The recording.
        out_dir: Output folder; created if missing. Existing files of the same names are
            replaced, only once all outputs are ready.
        settings: Model and decoding settings.
        formats: Export names from ``speech.export.FORMATS``.
        on_progress: Called with (audio seconds done, total) while processing.
        meeting: Header facts; by default the title is the recording's file stem.
        options: Roster, agenda, speaker count, job folder, time stamps.

    Returns:
        The ``MinutesResult``.

    Raises:
        SpeechError: A subclass naming what was wrong (input, roster, output folder, model…).
    """
    started = time.perf_counter()
    opts = options or JobOptions()
    names = check_formats(formats)
    info = probe_audio(audio, settings.max_audio_seconds)
    check_duration(audio, info.duration, settings.max_audio_seconds)
    roster, agenda = _check_options(opts)
    rules = load_rules(settings.rules_path)
    report = _progress_against(info.duration, on_progress)
    report(0.0, 0.0)
    ensure_model(settings)
    created = _prepare_out_dir(out_dir)
    staging = _stage(out_dir)
    job = JobDir(opts.job_dir or default_job_dir(settings.data_dir, audio))
    try:
        words = hotwords(roster, agenda)
        state = job.open(audio_identity(audio), fingerprint(settings, words))
        processor = _ChunkProcessor(settings, words)
        t0 = time.perf_counter()
        try:
            chunks, resumed = _run_chunks(audio, settings, job, state, processor, report)
        finally:
            processor.close()
        if not any(c.segments for c in chunks):
            job.remove()
            raise NoSpeechError(
                f"{audio.name}: no speech found in {info.duration:.1f} s of audio "
                "(silence or noise only?)"
            )
        speakers, segments, centroids = _settle_speakers(
            chunks, settings, opts, roster, processor.encoder
        )
        process_time = time.perf_counter() - t0
        _save_centroids(job, centroids)
        header = replace(
            meeting or MeetingInfo(title=audio.stem),
            source=audio.name,
            duration=info.duration,
            attendees=(meeting.attendees if meeting and meeting.attendees else _attendees(roster)),
        )
        minutes = Minutes(header, speakers, clean_segments(segments, rules))
        files = _publish(
            write_exports(minutes, staging, audio.stem, names, timestamps=opts.timestamps), out_dir
        )
        report(info.duration, info.duration)
    except (NotAudioError, EmptyAudioError, AudioTooLongError):
        job.remove()  # the recording itself is bad: nothing worth resuming
        _abort(staging, out_dir, created)
        raise
    except BaseException:
        _abort(staging, out_dir, created)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    language = state.get("language") or settings.language or ""
    return MinutesResult(
        files,
        minutes,
        info.duration,
        time.perf_counter() - started,
        process_time,
        language,
        job.path,
        resumed,
    )


def _run_chunks(
    audio: Path,
    settings: SpeechSettings,
    job: JobDir,
    state: dict,
    processor: _ChunkProcessor,
    report: ProgressCallback,
) -> tuple[list[ChunkResult], int]:
    """Every chunk's result in order, from its checkpoint or computed (and checkpointed).

    One chunk is started ahead of the one being finished once the language is known (fixed,
    or detected on an earlier chunk): a chunk in auto mode waits for the language, so every
    chunk after the first is decoded in the first one's language, as in a run without overlap.
    """
    chunks: list[ChunkResult] = []
    queue: deque[tuple[AudioChunk, ChunkResult | _InFlight]] = deque()
    resumed = 0

    def settle() -> None:
        nonlocal resumed
        chunk, item = queue.popleft()
        if isinstance(item, ChunkResult):
            done, resumed = item, resumed + 1
        else:
            done = processor.finish(item, lambda t: report(t, 0.0))
            job.save_chunk(done)
            if state.get("language") is None and done.segments:
                state["language"] = done.language
                job.save_state(state)
        chunks.append(done)
        report(chunk.end, 0.0)

    for chunk in stream_chunks(
        audio, settings.chunk_seconds, max_seconds=settings.max_audio_seconds
    ):
        ahead = 1 if (state.get("language") or settings.language) else 0
        while len(queue) > ahead:
            settle()
        loaded = job.load_chunk(chunk.index)
        if loaded is None:
            if state.get("language") is None and settings.language is None:
                while queue:  # the language comes from the chunks before this one
                    settle()
            queue.append((chunk, processor.start(chunk, state.get("language"))))
        else:
            queue.append((chunk, loaded))
    while queue:
        settle()
    return chunks, resumed


def _abort(staging: Path, out_dir: Path, created: bool) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    if created:
        _remove_if_empty(out_dir)


def _save_centroids(job: JobDir, centroids: dict[str, np.ndarray]) -> None:
    if centroids:
        np.savez(job.path / "speakers.npz", **centroids)


def remember_speakers(minutes_json: Path, job_dir: Path, settings: SpeechSettings) -> list[str]:
    """Remember the names a clerk gave in an edited JSON export, for the next sessions.

    Args:
        minutes_json: The JSON export, with ``speakers[].name`` filled in by the clerk.
        job_dir: The job folder of that run (holds each speaker's voice centroid).
        settings: Where the voice-print store lives.

    Returns:
        The names remembered.

    Raises:
        SpeechError: The JSON or the job folder's centroids cannot be read.
    """
    from speech.export import load_minutes_json

    minutes = load_minutes_json(minutes_json)
    try:
        with np.load(job_dir / "speakers.npz") as data:
            cents = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise SpeechError(f"no speaker voices in job folder {job_dir}: {exc}") from exc
    prints = [
        VoicePrint(s.name, s.role, cents[s.id]) for s in minutes.speakers if s.name and s.id in cents
    ]
    VoicePrintStore(settings.data_dir / "voiceprints.json").remember(prints)
    return [p.name for p in prints]
