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


def span_groups(windows: Sequence[Span]) -> np.ndarray:
    """Index of the speech span each window came from (windows of one span touch or overlap)."""
    groups = np.zeros(len(windows), dtype=int)
    for i in range(1, len(windows)):
        groups[i] = groups[i - 1] + (windows[i].start > windows[i - 1].end + 1e-6)
    return groups


@dataclass
class CentroidTracker:
    """The session's speakers so far: a running sum of unit embeddings per speaker.

    Per chunk, windows are first averaged per speech span (a span is one breath group of one
    voice; its mean embedding is far steadier than a 1.5 s window's), spans are clustered
    locally (``local_threshold``, strict, so local clusters are pure if fragmented), and each
    local cluster is matched to the running centroids. Only clusters with at least
    ``min_windows`` windows may open a new speaker or move a centroid: a short 「市長。」 from
    the chair is too noisy to tell a new voice from a known one, so it is only labelled with
    its nearest speaker unless it is clearly unlike every known one (below
    ``distinct_threshold``); ``finalize_labels`` re-labels everything against the final
    centroids anyway. Mutable on purpose: it is the running state.
    """

    match_threshold: float = 0.93
    local_threshold: float = 0.85
    min_windows: int = 6
    distinct_threshold: float = 0.8
    sums: list[np.ndarray] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def centroids(self) -> np.ndarray:
        """``(k, d)`` unit centroids, one per speaker so far."""
        if not self.sums:
            return np.zeros((0, 0), np.float32)
        return normalize_rows(np.stack(self.sums))

    def add_chunk(self, emb: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Cluster one chunk's windows and fold them into the session's speakers.

        Args:
            emb: ``(n, d)`` embeddings of the chunk's windows.
            groups: ``(n,)`` speech-span index of each window (``span_groups``); default: each
                window on its own.

        Returns:
            ``(n,)`` session speaker indices.
        """
        labels = np.zeros(len(emb), dtype=int)
        if len(emb) == 0:
            return labels
        unit = normalize_rows(emb.astype(np.float64))
        groups = np.arange(len(emb)) if groups is None else np.asarray(groups)
        ids = sorted(set(groups.tolist()))
        span_emb = np.stack([unit[groups == g].mean(axis=0) for g in ids])
        span_w = np.array([(groups == g).sum() for g in ids], dtype=float)
        local = agglomerative(span_emb, self.local_threshold, weights=span_w)
        window_local = local[np.searchsorted(ids, groups)]
        order = sorted(range(local.max() + 1), key=lambda k: -int((window_local == k).sum()))
        for k in order:
            mask = window_local == k
            centroid = normalize_rows(unit[mask].mean(axis=0, keepdims=True))[0]
            best, score = self._closest(centroid)
            big = int(mask.sum()) >= self.min_windows
            needed = self.match_threshold if big else self.distinct_threshold
            if best is None or score < needed:
                self.sums.append(unit[mask].sum(axis=0))
                self.counts.append(int(mask.sum()))
                best = len(self.sums) - 1
            elif big:
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
    merge_threshold: float = 0.93,
    min_windows: int = 6,
    iterations: int = 3,
    reliable: np.ndarray | None = None,
    distinct_threshold: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """Settle the session's speakers and re-label every window against them.

    Speakers with fewer than ``min_windows`` windows (≈ 9 s of speech in the whole session) are
    kept as speakers of their own only when clearly unlike every bigger one (similarity below
    ``distinct_threshold``); otherwise their windows go to the nearest kept speaker. The kept
    speakers are first re-derived from the windows nearest to them (k-means rounds), so that a
    running centroid's drift does not decide a merge. Kept speakers closer than ``merge_threshold`` are merged; with a known count
    (``n_speakers``) or bound (``max_speakers``, e.g. the roster's size) the closest pairs are
    merged until it holds. Then a few k-means rounds: nearest centroid, recompute centroids.

    Args:
        emb: ``(n, d)`` all windows of the session.
        labels: ``(n,)`` running labels from ``CentroidTracker``.
        n_speakers: Exact count, when the clerk knows it.
        max_speakers: Upper bound.
        merge_threshold: Centroids at least this similar are one speaker.
        min_windows: Smallest speaker kept on its own.
        iterations: k-means refinement rounds.
        reliable: ``(n,)`` mask of windows that may shape centroids (full-length ones); the
            others (label ``-1`` in ``labels`` is fine) are only labelled. Default: all.
        distinct_threshold: Below this similarity a small speaker is kept on its own.

    Returns:
        ``(labels, centroids)``: labels ``0..k-1`` numbered by first appearance, and the
        ``(k, d)`` unit centroids.
    """
    if len(emb) == 0:
        return np.zeros(0, dtype=int), np.zeros((0, emb.shape[1] if emb.ndim == 2 else 0))
    unit = normalize_rows(emb.astype(np.float64))
    good = np.ones(len(emb), dtype=bool) if reliable is None else np.asarray(reliable, dtype=bool)
    good = good & (labels >= 0)
    if not good.any():
        good = np.ones(len(emb), dtype=bool)
        labels = np.zeros(len(emb), dtype=int)
    ids = sorted(set(labels[good].tolist()), key=lambda i: -int((labels[good] == i).sum()))
    counts = np.array([(labels[good] == i).sum() for i in ids], dtype=float)
    cents = normalize_rows(np.stack([unit[good & (labels == i)].mean(axis=0) for i in ids]))
    kept = [i for i in range(len(ids)) if counts[i] >= min_windows] or [0]
    for i in range(len(ids)):
        if i not in kept and float(np.max(cents[kept] @ cents[i])) < distinct_threshold:
            kept.append(i)
    if n_speakers is not None:
        kept += [i for i in range(len(ids)) if i not in kept][: max(0, n_speakers - len(kept))]
    cents, counts = cents[kept], counts[kept]
    # Drift: a running centroid that absorbed a few clusters of a similar voice over the hours
    # (two voices at 0.915 on the benchmark's three hours came to look 0.931 alike and were
    # merged for good). Re-deriving each speaker from the windows nearest to it, before any
    # merge decision, makes the decision depend on the voices, not on the order they came in.
    cents, counts = _refine(unit[good], cents, iterations)
    wanted = n_speakers
    groups = agglomerative(cents, merge_threshold, weights=counts)
    bound = max_speakers if wanted is None else wanted
    if wanted is not None or (bound is not None and groups.max() + 1 > bound):
        groups = agglomerative(cents, merge_threshold, n_clusters=bound, weights=counts)
    merged = normalize_rows(
        np.stack(
            [(cents[groups == g] * counts[groups == g, None]).sum(axis=0) for g in range(groups.max() + 1)]
        )
    )
    relabel = np.argmax(unit @ merged.T, axis=1)
    for _ in range(iterations):
        used = sorted(set(relabel[good].tolist()))
        merged = normalize_rows(np.stack([unit[good & (relabel == k)].mean(axis=0) for k in used]))
        relabel = np.argmax(unit @ merged.T, axis=1)
    # Number speakers by first appearance.
    order = list(dict.fromkeys(relabel.tolist()))
    remap = {old: new for new, old in enumerate(order)}
    final = np.array([remap[x] for x in relabel.tolist()], dtype=int)
    final_cents = normalize_rows(
        np.stack(
            [unit[(final == k) & good].mean(axis=0) if ((final == k) & good).any()
             else unit[final == k].mean(axis=0) for k in range(len(order))]
        )
    )
    return final, final_cents


def _refine(unit: np.ndarray, cents: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means rounds (nearest centroid, recompute) from ``cents``; empty speakers are dropped.

    Returns the refined unit centroids and each one's window count. Deterministic: no random
    seeds, ties go to the lower index.
    """
    counts = np.zeros(len(cents))
    for _ in range(max(1, iterations)):
        nearest = np.argmax(unit @ cents.T, axis=1)
        counts = np.bincount(nearest, minlength=len(cents)).astype(float)
        alive = counts > 0
        sums = np.zeros_like(cents)
        np.add.at(sums, nearest, unit)
        cents, counts = normalize_rows(sums[alive]), counts[alive]
    return cents, counts


class WindowIndex:
    """The embedding windows' times as arrays, built once for looking up many words.

    ``speaker_at`` on a list of windows rebuilds these arrays on every call; attributing the
    ~100 000 words of a three-hour session that way costs minutes, through the index seconds.
    """

    def __init__(self, windows: Sequence[Span], labels: Sequence[int]) -> None:
        """Index ``windows`` (recording time) and their final ``labels``."""
        self.starts = np.array([w.start for w in windows], dtype=np.float64)
        self.ends = np.array([w.end for w in windows], dtype=np.float64)
        self.mids = (self.starts + self.ends) / 2
        self.labels = np.asarray(labels, dtype=int)

    def at(self, t: float, reach: float = 3.0) -> int | None:
        """Label of the window containing ``t``, else of the nearest within ``reach`` seconds."""
        if len(self.starts) == 0:
            return None
        inside = np.nonzero((self.starts <= t) & (t <= self.ends))[0]
        if len(inside):
            return int(self.labels[int(inside[np.argmin(np.abs(self.mids[inside] - t))])])
        dist = np.minimum(np.abs(self.starts - t), np.abs(self.ends - t))
        best = int(np.argmin(dist))
        return int(self.labels[best]) if dist[best] <= reach else None


def speaker_at(windows: Sequence[Span], labels: Sequence[int], t: float, reach: float = 3.0) -> int | None:
    """Label of the window containing ``t``, else of the nearest within ``reach`` seconds."""
    return WindowIndex(windows, labels).at(t, reach)


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
    index = WindowIndex(windows, labels)
    for seg in segments:
        if not seg.words:
            label = index.at((seg.start + seg.end) / 2)
            out.append(_with_speaker(seg, seg.words, None if label is None else names[label]))
            continue
        word_labels = smooth_runs(
            [index.at((w.start + w.end) / 2) for w in seg.words]
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
