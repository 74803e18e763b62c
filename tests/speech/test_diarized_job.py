"""The whole job on a two-voice exchange: named speakers, remembered voices, resume after a kill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speech import JobOptions, SpeechSettings, run_minutes_job
from speech.checkpoint import JobDir


def _roster(tmp_path: Path, audio: dict[str, Path], with_voices: bool) -> Path:
    path = tmp_path / ("roster-voices.csv" if with_voices else "roster.csv")
    rows = [("山田太郎", "議長", audio["jm_kumo"]), ("田中美咲", "３番", audio["jf_alpha"])]
    lines = ["name,role,voice"] + [f"{n},{r},{v if with_voices else ''}" for n, r, v in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_named_speakers_remembered_and_resumed(
    council_audio: dict[str, Path],
    speech_settings: SpeechSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = speech_settings.model_copy(
        update={"chunk_seconds": 31.0, "data_dir": tmp_path / "data"}
    )
    meeting = council_audio["meeting"]

    # 1. Voices enrolled from the roster's samples name the speakers.
    first = run_minutes_job(
        meeting,
        tmp_path / "out1",
        settings,
        ("txt", "json"),
        options=JobOptions(roster=_roster(tmp_path, council_audio, True), job_dir=tmp_path / "j1"),
    )
    lines = [x for x in (tmp_path / "out1" / "council.minutes.txt").read_text("utf-8").splitlines() if x.startswith("○")]
    assert [x.split("　")[0] for x in lines] == [
        "○議長（山田太郎君）", "○３番（田中美咲君）", "○議長（山田太郎君）", "○３番（田中美咲君）"
    ]
    assert "出席者（2名）" in (tmp_path / "out1" / "council.minutes.txt").read_text("utf-8")
    assert (settings.data_dir / "voiceprints.json").exists()

    # 2. Next session, a roster without samples: names come from the voice-print store.
    #    The run is killed after its first chunk…
    roster = _roster(tmp_path, council_audio, False)
    real_save = JobDir.save_chunk
    saved: list[int] = []

    def save_then_die(self: JobDir, result) -> None:
        real_save(self, result)
        saved.append(result.index)
        if len(saved) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(JobDir, "save_chunk", save_then_die)
    options = JobOptions(roster=roster, job_dir=tmp_path / "j2")
    with pytest.raises(KeyboardInterrupt):
        run_minutes_job(meeting, tmp_path / "out2", settings, ("txt", "json"), options=options)
    assert not (tmp_path / "out2").exists()  # no partial output

    # …and resumes where it stopped, with the same minutes as the uninterrupted run.
    second = run_minutes_job(meeting, tmp_path / "out2", settings, ("txt", "json"), options=options)
    assert second.resumed_chunks == 1 and saved == [0, 1]
    assert second.minutes.segments == first.minutes.segments
    assert [s.name for s in second.minutes.speakers] == ["山田太郎", "田中美咲"]
    data = json.loads((tmp_path / "out2" / "council.json").read_text("utf-8"))
    assert {s["name"] for s in data["speakers"]} == {"山田太郎", "田中美咲"}
