"""Who spoke when: clustering speaker embeddings into consistent labels for a whole session.

Shape of the problem: a council session is hours long and processed chunk by chunk (for memory
and for resumable jobs), but 発言者B at 0:05 must still be 発言者B at 5:40. So labels are never
assigned per chunk. Each chunk's windows are clustered locally (average-linkage agglomerative on
cosine similarity, exact and cheap for a few hundred windows), and each local cluster is then
matched to a running set of session centroids (``CentroidTracker``): joined to the most similar
one when close enough, otherwise it opens a new speaker. At the end the centroids are merged
down to the roster's size when that is known, and every window is re-labelled by its nearest
final centroid, so early windows benefit from what was learnt later. Memory stays at one
256-float vector per window (≈ 1 kB per 1.5 s of speech: 14 MB for six hours).

Everything here is pure numpy on arrays handed in, tested directly with synthetic vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from speech.types import Segment, Word
from speech.vad import Span


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise each row (zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-9)


def agglomerative(
    emb: np.ndarray,
    threshold: float,
    n_clusters: int | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Average-linkage clustering on cosine similarity.

    Merging stops when the most similar pair of clusters is below ``threshold`` or, if
    ``n_clusters`` is given, when that many clusters remain (then the threshold is ignored).

    Args:
        emb: ``(n, d)`` embeddings.
        threshold: Cosine similarity needed to merge.
        n_clusters: Exact number of clusters wanted (capped at ``n``).
        weights: Optional item weights (e.g. window counts behind each centroid).

    Returns:
        ``(n,)`` labels ``0..k-1``, numbered by first appearance.
    """
    n = len(emb)
    if n == 0:
        return np.zeros(0, dtype=int)
    unit = normalize_rows(emb.astype(np.float64))
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    size = np.ones(n) if weights is None else weights.astype(np.float64).copy()
    alive = np.ones(n, dtype=bool)
    members = {i: [i] for i in range(n)}
    target = max(1, min(n_clusters, n)) if n_clusters else None
    while alive.sum() > (target or 1):
        flat = int(np.argmax(sim))
        a, b = divmod(flat, n)
        if target is None and sim[a, b] < threshold:
            break
        # Lance–Williams update for average linkage.
        merged = (size[a] * sim[a] + size[b] * sim[b]) / (size[a] + size[b])
        sim[a], sim[:, a] = merged, merged
        sim[a, a] = -np.inf
        sim[b, :], sim[:, b] = -np.inf, -np.inf
        size[a] += size[b]
        alive[b] = False
        members[a] += members.pop(b)
    labels = np.empty(n, dtype=int)
    for k, root in enumerate(sorted(members, key=lambda r: min(members[r]))):
        labels[members[root]] = k
    return labels


@dataclass
class CentroidTracker:
    """The session's speakers so far: a running sum of unit embeddings per speaker.

    Mutable on purpose (it is the running state); ``snapshot``/``restore`` round-trip it.
    """

    match_threshold: float = 0.75
    local_threshold: float = 0.78
    sums: list[np.ndarray] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def centroids(self) -> np.ndarray:
        """``(k, d)`` unit centroids, one per speaker so far."""
        if not self.sums:
            return np.zeros((0, 0), np.float32)
        return normalize_rows(np.stack(self.sums))

    def add_chunk(self, emb: np.ndarray) -> np.ndarray:
        """Cluster one chunk's windows and fold them into the session's speakers.

        Args:
            emb: ``(n, d)`` embeddings of the chunk's windows.

        Returns:
            ``(n,)`` session speaker indices.
        """
        labels = np.zeros(len(emb), dtype=int)
        if len(emb) == 0:
            return labels
        unit = normalize_rows(emb.astype(np.float64))
        local = agglomerative(unit, self.local_threshold)
        # Largest local clusters first: they have the most reliable centroids.
        order = sorted(range(local.max() + 1), key=lambda k: -int((local == k).sum()))
        for k in order:
            mask = local == k
            centroid = normalize_rows(unit[mask].mean(axis=0, keepdims=True))[0]
            best, score = self._closest(centroid)
            if best is None or score < self.match_threshold:
                self.sums.append(unit[mask].sum(axis=0))
                self.counts.append(int(mask.sum()))
                best = len(self.sums) - 1
            else:
                self.sums[best] = self.sums[best] + unit[mask].sum(axis=0)
                self.counts[best] += int(mask.sum())
            labels[mask] = best
        return labels

    def _closest(self, vector: np.ndarray) -> tuple[int | None, float]:
        if not self.sums:
            return None, -1.0
        scores = self.centroids() @ vector
        best = int(np.argmax(scores))
        return best, float(scores[best])


def finalize_labels(
    emb: np.ndarray,
    labels: np.ndarray,
    n_speakers: int | None = None,
    max_speakers: int | None = None,
    merge_threshold: float = 0.75,
) -> tuple[np.ndarray, np.ndarray]:
    """Settle the session's speakers: merge near-duplicate centroids, re-label every window.

    Args:
        emb: ``(n, d)`` all windows of the session.
        labels: ``(n,)`` running labels from ``CentroidTracker``.
        n_speakers: Exact count, when the clerk knows it.
        max_speakers: Upper bound (e.g. the roster's size).
        merge_threshold: Centroids at least this similar are one speaker.

    Returns:
        ``(labels, centroids)``: labels ``0..k-1`` numbered by first appearance, and the
        ``(k, d)`` unit centroids.
    """
    if len(emb) == 0:
        return np.zeros(0, dtype=int), np.zeros((0, emb.shape[1] if emb.ndim == 2 else 0))
    unit = normalize_rows(emb.astype(np.float64))
    ids = sorted(set(labels.tolist()))
    cents = normalize_rows(np.stack([unit[labels == i].mean(axis=0) for i in ids]))
    counts = np.array([(labels == i).sum() for i in ids], dtype=float)
    wanted = n_speakers
    if wanted is None:
        groups = agglomerative(cents, merge_threshold, weights=counts)
        if max_speakers is not None and groups.max() + 1 > max_speakers:
            wanted = max_speakers
    if wanted is not None:
        groups = agglomerative(cents, merge_threshold, n_clusters=wanted, weights=counts)
    merged = normalize_rows(
        np.stack([(cents[groups == g] * counts[groups == g, None]).sum(axis=0) for g in range(groups.max() + 1)])
    )
    relabel = np.argmax(unit @ merged.T, axis=1)
    # Number speakers by first appearance; drop centroids nobody is nearest to.
    order = list(dict.fromkeys(relabel.tolist()))
    remap = {old: new for new, old in enumerate(order)}
    final = np.array([remap[x] for x in relabel.tolist()], dtype=int)
    final_cents = normalize_rows(np.stack([unit[final == k].mean(axis=0) for k in range(len(order))]))
    return final, final_cents


def speaker_at(windows: Sequence[Span], labels: Sequence[int], t: float, reach: float = 3.0) -> int | None:
    """Label of the window containing ``t``, else of the nearest within ``reach`` seconds."""
    if not windows:
        return None
    starts = np.array([w.start for w in windows])
    ends = np.array([w.end for w in windows])
    inside = np.nonzero((starts <= t) & (t <= ends))[0]
    if len(inside):
        mids = (starts[inside] + ends[inside]) / 2
        return int(labels[int(inside[np.argmin(np.abs(mids - t))])])
    dist = np.minimum(np.abs(starts - t), np.abs(ends - t))
    best = int(np.argmin(dist))
    return int(labels[best]) if dist[best] <= reach else None


def smooth_runs(labels: list[int | None], min_run: int = 2) -> list[int | None]:
    """Absorb runs shorter than ``min_run`` words that sit between two runs of one speaker.

    A single word flipping to another voice mid-sentence is a window straddling two voices, not
    a real interjection (those last longer than a word or two).
    """
    out = list(labels)
    runs: list[tuple[int, int]] = []  # (start, end) index ranges of equal labels
    i = 0
    while i < len(out):
        j = i
        while j + 1 < len(out) and out[j + 1] == out[i]:
            j += 1
        runs.append((i, j + 1))
        i = j + 1
    for k in range(1, len(runs) - 1):
        (s, e), before, after = runs[k], runs[k - 1], runs[k + 1]
        if e - s < min_run and out[before[0]] is not None and out[before[0]] == out[after[0]]:
            out[s:e] = [out[before[0]]] * (e - s)
    # Unknown words take the speaker before them (or after, at the very start).
    last = next((x for x in out if x is not None), None)
    for idx, value in enumerate(out):
        if value is None:
            out[idx] = last
        else:
            last = value
    return out


def attribute(
    segments: Sequence[Segment], windows: Sequence[Span], labels: Sequence[int], names: Sequence[str]
) -> tuple[Segment, ...]:
    """Give every segment a speaker, splitting a segment where the voice changes mid-way.

    Args:
        segments: Whisper segments with words, recording time.
        windows: Embedding windows, recording time, in order.
        labels: Final label of each window.
        names: Speaker id for each label (``names[label]``).

    Returns:
        Segments with ``speaker`` set; a split segment's parts keep their own words and times.
    """
    out: list[Segment] = []
    for seg in segments:
        if not seg.words:
            label = speaker_at(windows, labels, (seg.start + seg.end) / 2)
            out.append(_with_speaker(seg, seg.words, None if label is None else names[label]))
            continue
        word_labels = smooth_runs(
            [speaker_at(windows, labels, (w.start + w.end) / 2) for w in seg.words]
        )
        start = 0
        for i in range(1, len(seg.words) + 1):
            if i == len(seg.words) or word_labels[i] != word_labels[start]:
                label = word_labels[start]
                part = seg.words[start:i]
                out.append(_with_speaker(seg, part, None if label is None else names[label]))
                start = i
    return tuple(out)


def _with_speaker(seg: Segment, words: Sequence[Word], speaker: str | None) -> Segment:
    if not words or len(words) == len(seg.words):
        return Segment(seg.start, seg.end, seg.text, seg.words, speaker)
    text = "".join(w.word for w in words).strip()
    return Segment(words[0].start, words[-1].end, text, tuple(words), speaker)
