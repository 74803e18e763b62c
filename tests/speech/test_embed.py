"""The numpy voice encoder: LSTM equations, mel front end, and voices told apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech.decode import load_audio
from speech.embed import HIDDEN, VoiceEncoder, mel_filterbank, mel_frames, normalize_volume


def _reference_lstm(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """PyTorch's nn.LSTM equations, one sample and one step at a time (slow, obvious)."""
    seq = x.astype(np.float64)
    for layer in range(3):
        w_ih, w_hh = params[f"lstm.weight_ih_l{layer}"], params[f"lstm.weight_hh_l{layer}"]
        b = params[f"lstm.bias_ih_l{layer}"] + params[f"lstm.bias_hh_l{layer}"]
        h, c, outs = np.zeros(HIDDEN), np.zeros(HIDDEN), []
        for frame in seq:
            z = w_ih @ frame + w_hh @ h + b
            i, f, g, o = (z[k * HIDDEN : (k + 1) * HIDDEN] for k in range(4))
            sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
            c = sig(f) * c + sig(i) * np.tanh(g)
            h = sig(o) * np.tanh(c)
            outs.append(h)
        seq = np.array(outs)
    raw = np.maximum(0, params["linear.weight"] @ h + params["linear.bias"])
    return raw / np.linalg.norm(raw)


def test_batched_lstm_matches_the_reference_equations() -> None:
    enc = VoiceEncoder()
    enc.warm_up()
    mels = np.random.default_rng(0).random((2, 12, 40)).astype(np.float32)
    got = enc.embed_mels(mels)
    for row in range(2):
        np.testing.assert_allclose(got[row], _reference_lstm(enc._params, mels[row]), atol=1e-4)


def test_mel_front_end_shapes_and_filters() -> None:
    bank = mel_filterbank()
    assert bank.shape == (40, 201) and (bank >= 0).all() and (bank.max(axis=1) > 0).all()
    assert mel_frames(np.zeros(16_000, np.float32)).shape == (101, 40)
    quiet = np.full(100, 0.001, np.float32)
    assert np.sqrt(np.mean(normalize_volume(quiet) ** 2)) == pytest.approx(10 ** (-30 / 20), rel=1e-3)


def test_bad_weights_file(tmp_path: Path) -> None:
    from speech import ModelNotFoundError

    np.savez(tmp_path / "w.npz", x=np.zeros(1))
    with pytest.raises(ModelNotFoundError, match="not a resemblyzer voice encoder"):
        VoiceEncoder(tmp_path / "w.npz").warm_up()


def test_same_voice_is_closer_than_another_voice(council_audio: dict[str, Path]) -> None:
    enc = VoiceEncoder()
    male, female = load_audio(council_audio["jm_kumo"]), load_audio(council_audio["jf_alpha"])
    half = len(male) // 2
    a, b, c = enc.embed_windows([male[:half], male[half:], female[: 2 * 16_000]])
    assert float(a @ b) > float(a @ c) + 0.1
