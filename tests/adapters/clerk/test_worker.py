"""The worker on the real pipeline, without HTTP: a recording with no speech fails with a reason
the clerk can read, a cancelled job stays cancelled, and the queue protocol is all it needs."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from adapters.clerk import ClerkStore, SqliteQueue, Worker
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _silence(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x00\x00" * int(16_000 * seconds))
    return path


@pytest.fixture
def setup(settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    from speech import assemble_whisper_base

    store = ClerkStore(tmp_path / "clerk.db", b"x" * 32)
    user = store.add_user("suzuki", "long enough pw", "clerk")
    audio = _silence(tmp_path / "quiet.wav", 2.0)
    upload = store.add_upload(user, "quiet.wav", audio.stat().st_size, tmp_path / "uploads")
    shutil.copyfile(audio, upload.path)
    speech = settings.speech.model_copy(update={
        "model_path": assemble_whisper_base(ROOT / "var" / "models" / "whisper-base"),
        "data_dir": tmp_path / "speech",
    })
    worker = Worker(SqliteQueue(store), speech, tmp_path / "jobs")
    yield store, upload, worker
    store.close()


def test_a_recording_without_speech_fails_with_its_reason_and_can_be_retried(setup) -> None:  # type: ignore[no-untyped-def]
    store, upload, worker = setup
    job = store.add_job(upload, "静かな会議")
    assert worker.run_once() is True
    failed = store.job(job.id)
    assert failed.status == "failed" and "no speech found" in (failed.error or "")
    assert worker.run_once() is False  # nothing queued
    assert store.transition(job.id, ("failed",), "queued").status == "queued"


def test_a_job_cancelled_before_it_finishes_stays_cancelled(setup) -> None:  # type: ignore[no-untyped-def]
    store, upload, worker = setup
    job = store.add_job(upload, "中止する会議")

    class CancelOnFirstReport(SqliteQueue):
        def progress(self, job_id: int, done: float, total: float) -> None:
            store.transition(job_id, ("running",), "cancelled")
            super().progress(job_id, done, total)

    worker.queue = CancelOnFirstReport(store)
    worker.run_once()
    assert store.job(job.id).status == "cancelled"


def test_sqlite_queue_requeues_jobs_of_a_dead_worker(setup) -> None:  # type: ignore[no-untyped-def]
    store, upload, _ = setup
    job = store.add_job(upload, "再開する会議")
    assert store.claim_job("dead-worker").id == job.id  # type: ignore[union-attr]
    assert SqliteQueue(store).requeue_running() == 1
    assert store.job(job.id).status == "queued"
