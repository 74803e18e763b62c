"""Minutes pipeline benchmark: CER, speaker attribution, speed and memory vs bare faster-whisper.

On a synthetic council meeting (``bench.minutes_meeting``: five kokoro voices, known text and
turns) this runs, each in its own process so peak RSS is its own:

* ``pipeline`` — ``speech.run_minutes_job`` as a clerk would run it: a roster (names and
  roles → hotwords, and the bound on the speaker count; no voice samples, so speakers are found
  unsupervised), an agenda file (five topic terms → hotwords), all exports, a fresh job folder;
* ``bare`` — faster-whisper alone on the same file, same model, threads, beam, VAD and word
  timestamps: the cost of transcription without chunking, diarization, 整文 or layout;
* ``bare-plain`` — faster-whisper with its defaults plus VAD and beam 5 (no word timestamps),
  the figure usually quoted (short run only).

Metrics: CER after NFKC, punctuation and spaces removed and numerals normalized (kanji numbers
→ Arabic, both sides); the share of reference characters whose time falls in a hypothesis word
of the right speaker (each hypothesis speaker mapped to the true speaker it overlaps most);
speed = audio seconds ÷ wall seconds; peak RSS of the process.

``python -m bench.minutes_bench`` runs the 10-minute meeting; ``--long`` adds the one-hour run
(the same meeting six times: slow, about twenty minutes on two cores); ``--hours 3`` the
three-hour memory check.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def levenshtein(a: str, b: str) -> int:
    """Edit distance (Myers/Hyyrö bit-parallel; Python ints as bit vectors)."""
    if not a:
        return len(b)
    if not b:
        return len(a)
    peq: dict[str, int] = defaultdict(int)
    for i, ch in enumerate(a):
        peq[ch] |= 1 << i
    mask = (1 << len(a)) - 1
    last = 1 << (len(a) - 1)
    pv, mv, score = mask, 0, len(a)
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


_KANJI_NUM = re.compile("[〇零一二三四五六七八九十百千]+")


def normalize(text: str) -> str:
    """NFKC, numerals as Arabic, no punctuation or spaces: the text CER is computed on."""
    from speech.clean import kanji_to_int

    text = unicodedata.normalize("NFKC", text)
    text = _KANJI_NUM.sub(lambda m: str(kanji_to_int(m.group(0))), text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of normalized texts."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    return levenshtein(ref, hyp) / max(1, len(ref))


def speaker_accuracy(turns: list[dict], words: list[tuple[float, float, str, str]]) -> float:
    """Share of reference characters attributed to the right speaker.

    Each reference turn's characters count as right when the hypothesis words inside the turn's
    time carry the speaker mapped to the turn's true speaker (majority mapping, by characters).
    """
    def truth_at(t: float) -> str | None:
        for tr in turns:
            if tr["start"] - 0.3 <= t <= tr["end"] + 0.3:
                return tr["speaker"]
        return None

    overlap: dict[str, Counter[str]] = defaultdict(Counter)
    for start, end, word, spk in words:
        true = truth_at((start + end) / 2)
        if true is not None:
            overlap[spk][true] += len(normalize(word))
    mapping = {spk: c.most_common(1)[0][0] for spk, c in overlap.items() if c}
    right = total = 0
    for tr in turns:
        n = len(normalize(tr["text"]))
        total += n
        inside = [(w, s) for (a, b, w, s) in words if tr["start"] - 0.3 <= (a + b) / 2 <= tr["end"] + 0.3]
        chars = sum(len(normalize(w)) for w, _ in inside)
        good = sum(len(normalize(w)) for w, s in inside if mapping.get(s) == tr["speaker"])
        right += n * (good / chars) if chars else 0
    return right / max(1, total)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_pipeline(wav: Path, roster: Path) -> dict:
    from speech import JobOptions, MeetingInfo, SpeechSettings, run_minutes_job

    agenda = wav.with_suffix(".agenda.txt")

    with tempfile.TemporaryDirectory() as tmp:
        settings = SpeechSettings(data_dir=Path(tmp) / "data")
        t0 = time.perf_counter()
        result = run_minutes_job(
            wav,
            Path(tmp) / "out",
            settings,
            ("txt", "docx", "json", "srt", "vtt"),
            meeting=MeetingInfo(title="霞野市議会定例会"),
            options=JobOptions(roster=roster, agenda=agenda if agenda.exists() else None),
        )
        wall = time.perf_counter() - t0
        names = {s.id: (s.name or f"発言者{s.id}") for s in result.minutes.speakers}
        txt = next(p for p in result.files if p.name.endswith(".minutes.txt")).read_text("utf-8")
    segs = result.minutes.segments
    return {
        "wall": wall,
        "rss_mb": _rss_mb(),
        "text": "".join(s.text for s in segs),
        "verbatim": "".join(s.text_verbatim for s in segs),
        "words": [(w.start, w.end, w.word, names[s.speaker]) for s in segs for w in s.words],
        "speakers": sorted(set(names.values())),
        "excerpt": txt.splitlines()[:14],
    }


def _worker_bare(wav: Path, word_timestamps: bool) -> dict:
    from faster_whisper import WhisperModel

    from speech import SpeechSettings

    s = SpeechSettings()
    t0 = time.perf_counter()
    model = WhisperModel(
        str(s.model_path), device="cpu", compute_type=s.compute_type, cpu_threads=s.cpu_threads
    )
    options = {"condition_on_previous_text": False} if word_timestamps else {}
    segments, _ = model.transcribe(
        str(wav),
        language="ja",
        beam_size=s.beam_size,
        vad_filter=True,
        word_timestamps=word_timestamps,
        **options,
    )
    text = "".join(seg.text for seg in segments)
    return {"wall": time.perf_counter() - t0, "rss_mb": _rss_mb(), "text": text, "verbatim": text}


def _run_worker(kind: str, wav: Path, roster: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.minutes_bench", "--worker", kind, str(wav), str(roster)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _roster(people: list[dict], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "role"])
        for p in people:
            writer.writerow([p["name"], p["role"]])
    return path


AGENDA = "一般質問\n子育て支援\n放課後児童クラブ\n個別避難計画\n防災行政無線\n霞野市議会定例会\n"


def bench(wav: Path, truth_path: Path, kinds: list[str]) -> None:
    """Run and print one meeting's figures (the hypotheses are kept next to the audio)."""
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    people = {p["key"]: p["name"] for p in truth["people"]}
    turns = [{**t, "speaker": people.get(t["speaker"], "（議場）")} for t in truth["turns"]]
    reference = "".join(t["text"] for t in truth["turns"])
    audio_s = truth["turns"][-1]["end"] + 1.0
    roster = _roster(truth["people"], wav.with_suffix(".roster.csv"))
    wav.with_suffix(".agenda.txt").write_text(AGENDA, encoding="utf-8")
    print(f"meeting {wav.name}: {audio_s / 60:.1f} min, {len(turns)} turns, "
          f"{len(people)} speakers, {len(normalize(reference))} reference chars", flush=True)
    results = {}
    for kind in kinds:
        r = _run_worker(kind, wav, roster)
        results[kind] = r
        wav.with_suffix(f".{kind}.txt").write_text(r["text"], encoding="utf-8")
        line = (f"  {kind:<11} wall {r['wall']:7.1f} s  speed {audio_s / r['wall']:5.1f}x  "
                f"peak RSS {r['rss_mb']:6.0f} MB  CER {cer(reference, r['text']):.3f}")
        if kind == "pipeline":
            line += f" (verbatim {cer(reference, r['verbatim']):.3f})"
            acc = speaker_accuracy(turns, [tuple(w) for w in r["words"]])
            line += f"  speaker accuracy {acc:.3f}  speakers {', '.join(r['speakers'])}"
        print(line, flush=True)
    if "pipeline" in results and "bare" in results:
        ratio = results["pipeline"]["wall"] / results["bare"]["wall"]
        print(f"  pipeline / bare faster-whisper wall time: {ratio:.2f}", flush=True)
    if "pipeline" in results:
        print("  excerpt:\n    " + "\n    ".join(results["pipeline"]["excerpt"]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="minutes pipeline benchmark")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "WAV", "ROSTER"))
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--long", action="store_true", help="also the one-hour meeting")
    parser.add_argument("--hours", type=int, default=0, help="also an N-hour pipeline-only run")
    args = parser.parse_args()
    if args.worker:
        kind, wav, roster = args.worker
        if kind == "pipeline":
            out = _worker_pipeline(Path(wav), Path(roster))
        else:
            out = _worker_bare(Path(wav), word_timestamps=(kind == "bare"))
        print(json.dumps(out, ensure_ascii=False))
        return
    from bench.minutes_meeting import build, repeat

    wav, truth = build(args.minutes)
    bench(wav, truth, ["pipeline", "bare", "bare-plain"])
    if args.long:
        bench(*repeat(wav, truth, 6), ["pipeline", "bare"])
    if args.hours:
        bench(*repeat(wav, truth, args.hours * 6), ["pipeline"])


if __name__ == "__main__":
    main()
