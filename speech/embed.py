"""Speaker embeddings: resemblyzer's voice encoder, re-implemented in numpy.

Why not ``pip install resemblyzer``: its metadata requires torch, librosa (numba, llvmlite,
scikit-learn, soundfile…), scipy, ``webrtcvad`` (whose import needs the removed
``pkg_resources``) and the ``typing`` backport, and the set-up's ``pip check`` insists on all of
them although inference needs none. The network is small (3-layer LSTM 40→256, a linear layer,
ReLU, L2 norm), so it runs here in plain numpy, batched over windows, on resemblyzer's own trained
weights: ``speech/data/resemblyzer_voice_encoder.npz`` holds the ``model_state`` tensors of
resemblyzer 0.1.4's ``pretrained.pt`` (Apache-2.0, © Resemble AI), converted once with
``torch.load(...)["model_state"]`` → ``numpy.savez_compressed``; ``tests/speech/test_embed.py``
checks the numpy LSTM against the reference equations. A city with another encoder of the same
shape points ``SpeechSettings.speaker_model_path`` at its own ``.npz``.

The recurrent step multiplies small matrices; OpenBLAS with two threads on a shared 2-core box
was five times slower than one (thread hand-off dominates), so inference runs under
``threadpool_limits(1)``, the same finding as the design notes' single-threaded resemblyzer.

The mel front end reproduces ``librosa.feature.melspectrogram`` as resemblyzer calls it (25 ms
Hann window, 10 ms hop, 40 Slaney mel bands, power spectrum, no log), so the weights see what
they were trained on. Windows are normalised to -30 dBFS (louder ones left alone), as
resemblyzer's ``preprocess_wav`` does.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from speech.decode import SAMPLE_RATE
from speech.errors import ModelNotFoundError

N_FFT = 400
HOP = 160
N_MELS = 40
HIDDEN = 256
_TARGET_DBFS = -30.0
_LAYERS = 3


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_region = hz >= 1000.0
    mel[log_region] = 15.0 + np.log(hz[log_region] / 1000.0) / (np.log(6.4) / 27.0)
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * (200.0 / 3)
    log_region = mel >= 15.0
    hz[log_region] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel[log_region] - 15.0))
    return hz


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney-normalised triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    top = _hz_to_mel(np.array([sr / 2.0]))[0]
    edges = _mel_to_hz(np.linspace(0.0, top, n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:n_mels] / widths[:n_mels, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    return weights.astype(np.float32)


_MEL = mel_filterbank()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """Mel power spectrogram of ``wav`` (16 kHz), shape ``(frames, 40)``, librosa-compatible."""
    padded = np.pad(wav.astype(np.float32), N_FFT // 2)
    n = 1 + (len(padded) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    spectrum = np.abs(np.fft.rfft(padded[idx] * _WINDOW, axis=1)) ** 2
    return (spectrum.astype(np.float32) @ _MEL.T).astype(np.float32)


def normalize_volume(wav: np.ndarray, target_dbfs: float = _TARGET_DBFS) -> np.ndarray:
    """Raise quiet audio to ``target_dbfs`` RMS; leave louder audio alone."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    if rms <= 1e-9:
        return wav
    change = target_dbfs - 20 * np.log10(rms)
    return wav if change < 0 else (wav * (10 ** (change / 20))).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


class VoiceEncoder:
    """resemblyzer's encoder: mel windows in, 256-d L2-normalised embeddings out."""

    def __init__(self, weights: Path | None = None) -> None:
        """Keep the weights path (``None``: the shipped resemblyzer weights); load lazily."""
        self.weights = weights
        self._params: dict[str, np.ndarray] | None = None

    def warm_up(self) -> None:
        """Load the weights (idempotent).

        Raises:
            ModelNotFoundError: The weights file is missing or not an encoder of this shape.
        """
        if self._params is not None:
            return
        source = self.weights or resources.files("speech") / "data" / "resemblyzer_voice_encoder.npz"
        try:
            with resources.as_file(source) as path, np.load(path) as data:  # type: ignore[arg-type]
                params = {k: data[k].astype(np.float32) for k in data.files}
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"speaker encoder weights {source} cannot be read: {exc}") from exc
        needed = [f"lstm.weight_ih_l{i}" for i in range(_LAYERS)] + ["linear.weight"]
        if any(k not in params for k in needed):
            raise ModelNotFoundError(
                f"{source} is not a resemblyzer voice encoder (expected {', '.join(needed)})"
            )
        self._params = params

    def embed_mels(self, mels: np.ndarray) -> np.ndarray:
        """Embed a batch of mel windows ``(batch, frames, 40)`` → ``(batch, 256)``."""
        self.warm_up()
        p = self._params
        if p is None:
            raise RuntimeError("speaker encoder failed to load")
        seq = mels.astype(np.float32)
        batch, frames, _ = seq.shape
        h = np.zeros((batch, HIDDEN), np.float32)
        for layer in range(_LAYERS):
            w_ih, w_hh = p[f"lstm.weight_ih_l{layer}"], p[f"lstm.weight_hh_l{layer}"]
            bias = p[f"lstm.bias_ih_l{layer}"] + p[f"lstm.bias_hh_l{layer}"]
            proj = (seq.reshape(batch * frames, -1) @ w_ih.T + bias).reshape(batch, frames, -1)
            w_hh_t = np.ascontiguousarray(w_hh.T)
            h = np.zeros((batch, HIDDEN), np.float32)
            c = np.zeros((batch, HIDDEN), np.float32)
            outputs = np.empty((batch, frames, HIDDEN), np.float32) if layer < _LAYERS - 1 else None
            for t in range(frames):
                gates = proj[:, t] + h @ w_hh_t
                i, f, g, o = np.split(gates, 4, axis=1)
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                if outputs is not None:
                    outputs[:, t] = h
            if outputs is not None:
                seq = outputs
        raw = np.maximum(0.0, h @ p["linear.weight"].T + p["linear.bias"])
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return (raw / np.maximum(norms, 1e-9)).astype(np.float32)

    def embed_windows(self, wavs: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """Embed 16 kHz waveforms (any lengths) → ``(len(wavs), 256)``.

        Shorter windows are left-padded with silent frames to the longest in their batch, so the
        LSTM's final state still ends on speech. 32 windows a batch: the input projections of a
        batch (``batch × frames × 1024`` floats) are the job's biggest transient; 256 windows
        of 1.5 s took 300 MB above the baseline at 128 a batch, 96 MB at 32, for the same CPU
        time (4.9 s vs 5.2 s, single-threaded, on the loaded 2-core box).
        """
        if not wavs:
            return np.zeros((0, HIDDEN), np.float32)
        mels = [mel_frames(normalize_volume(w)) for w in wavs]
        order = np.argsort([len(m) for m in mels], kind="stable")
        out = np.zeros((len(wavs), HIDDEN), np.float32)
        with threadpool_limits(limits=1):
            for lo in range(0, len(order), batch_size):
                idx = order[lo : lo + batch_size]
                longest = max(len(mels[i]) for i in idx)
                batch = np.zeros((len(idx), longest, N_MELS), np.float32)
                for row, i in enumerate(idx):
                    batch[row, longest - len(mels[i]) :] = mels[i]
                out[idx] = self.embed_mels(batch)
        return out
