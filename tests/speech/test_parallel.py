"""Whisper on both cores: pieces cut at pauses, decoded concurrently, put back in order.

The split is pure (tested directly); the real base model then shows that two workers give
exactly the text and times of one worker on the same pieces, so the worker count is a speed
setting only and a resumed job may use another one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech import SpeechSettings
from speech.decode import AudioChunk, load_audio
from speech.transcribe import Transcriber, split_pieces
from speech.vad import Span, detect_speech


def _speech(pieces):
    return [round(sum(s.duration for s in p), 6) for p in pieces]


def test_pieces_cover_the_spans_in_order_cut_only_between_spans() -> None:
    spans = [Span(i * 10.0, i * 10.0 + 8.0) for i in range(30)]  # 240 s of speech

    pieces = split_pieces(spans, 60.0)

    assert [s for p in pieces for s in p] == spans
    assert _speech(pieces) == [56.0, 64.0, 56.0, 64.0]
    assert split_pieces(spans, 60.0) == pieces  # deterministic
    assert _speech(split_pieces(spans, 100.0)) == [120.0, 120.0]
    assert len(split_pieces(spans, 1000.0)) == 1


def test_pieces_never_split_a_span_nor_come_out_empty() -> None:
    long_turn = [Span(0.0, 200.0)]
    assert split_pieces(long_turn, 60.0) == (tuple(long_turn),)

    uneven = [Span(0.0, 100.0), Span(101.0, 102.0), Span(103.0, 104.0)]
    pieces = split_pieces(uneven, 30.0)
    assert all(pieces) and [s for p in pieces for s in p] == uneven
    assert split_pieces([], 60.0) == ()
    with pytest.raises(ValueError, match="piece_seconds must be > 0"):
        split_pieces(uneven, 0)


@pytest.mark.slow
def test_two_workers_hear_exactly_what_one_worker_hears(
    council_audio: dict[str, Path], speech_settings: SpeechSettings
) -> None:
    samples = load_audio(council_audio["meeting"])
    chunk = AudioChunk(0, 100.0, samples)  # a later chunk: times are shifted by its start
    speech = detect_speech(samples)
    base = speech_settings.model_copy(update={"piece_seconds": 5.0, "cpu_threads": 1})
    assert len(split_pieces(speech, 5.0)) >= 3

    heard = {}
    for workers in (1, 2):
        transcriber = Transcriber(base.model_copy(update={"workers": workers}))
        reached: list[float] = []
        try:
            heard[workers] = transcriber.transcribe_chunk(
                chunk, speech, ("山田太郎",), "ja", on_segment=reached.append
            )
        finally:
            transcriber.close()
        assert reached == sorted(reached) and reached[-1] > 100.0

    one, two = heard[1], heard[2]
    assert two.segments == one.segments and two.language == "ja"
    text = "".join(s.text for s in two.segments)
    assert "本会議" in text and "子育て" in text, text
    starts = [w.start for s in two.segments for w in s.words]
    assert starts == sorted(starts) and starts[0] >= 100.0
    assert max(s.end for s in two.segments) <= 100.0 + len(samples) / 16_000 + 0.5
    assert np.isfinite([w.probability for s in two.segments for w in s.words]).all()
