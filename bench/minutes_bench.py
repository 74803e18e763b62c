"""Minutes pipeline benchmark: CER, speaker attribution, speed and memory vs bare faster-whisper.

On a synthetic council meeting (``bench.minutes_meeting``: five kokoro voices, known text and
turns) this runs, each in its own process so peak RSS is its own:

* ``pipeline`` — ``speech.run_minutes_job`` as a clerk would run it: a roster (names and
  roles → hotwords, and the bound on the speaker count; no voice samples, so speakers are found
  unsupervised), an agenda file (five topic terms → hotwords), all exports, a fresh job folder;
* ``bare-same`` — faster-whisper alone on the same file, same model, threads, beam, VAD and
  the pipeline's decoding options (word timestamps, no carried context, hallucination guards,
  the roster's and agenda's hotwords): the cost of transcription without chunking,
  diarization, 整文 or layout — the honest denominator of the pipeline's overhead;
* ``bare`` — faster-whisper with its defaults plus VAD, Japanese and beam 5 (no word
  timestamps, no hotwords), the figure usually quoted.

Metrics: CER after NFKC, punctuation and spaces removed and numerals normalized (kanji numbers
→ Arabic, both sides); the share of reference characters whose time falls in a hypothesis word
of the right speaker (each hypothesis speaker mapped to the true speaker it overlaps most);
speed = audio seconds ÷ wall seconds, and audio seconds ÷ CPU seconds of the process (all its
threads: on a shared, loaded machine the wall clock mostly measures the other users, the CPU
time the work); the load average before and after each run; peak RSS of the process. Runs
follow each other back to back, so their ratios are measured under the same load. The
pipeline run prints its RSS every five minutes of audio to stderr.

``python -m bench.minutes_bench`` runs the short meeting (about 15 minutes); ``--long`` adds the
one-hour run (the same meeting played four times in a row); ``--hours 3`` the three-hour
memory check (twelve times).

Measured in session 2 (25 Nov 2026) on the 2 shared cores with a load average of 14–20 (seven
other engineers), so wall clocks mostly measure the others; ratios are from one back-to-back run:

  15.6-min meeting, pipeline   wall 542 s  CPU 180 s  peak RSS  772 MB  CER 0.078  speakers 0.999
                    bare-same  wall 565 s  CPU 163 s  peak RSS 1197 MB  CER 0.076
                    pipeline / bare-same: wall 0.96, CPU 1.10
  an earlier run (before 32-window embedding batches): pipeline / bare-same wall 1.22, CPU 1.28;
  pipeline / bare (defaults, CER 0.095) wall 1.57, CPU 1.29.
  62-min meeting (×4), pipeline (128-window batches still): wall 3092 s, CPU 889 s, peak RSS
  911 MB, CER 0.093, speakers 0.999 (5 of 5); RSS 600–690 MB after every 5 min of audio,
  peak 742 → 830 → 900 MB at 5, 21 and 37 min, then flat (the whole file is never in memory;
  bare faster-whisper decodes it whole: 1.2 GB already at 15.6 min). The one-hour bare-same run
  and the three-hour run did not fit in the session.

Session 3 (26 Nov 2026), two one-thread Whisper workers (``workers=2, cpu_threads=1``; the bare
runs keep one two-thread model, ``BARE_THREADS``), load 3–7 unless said:

  15.6-min meeting, pipeline (default: workers take consecutive chunks)  wall 200.8 s  CPU 163.9 s
                    peak RSS 1130 MB  CER 0.078  speakers 0.999  Whisper threads 77 + 72 CPU-s
                    pipeline, 120-s pieces   wall 212.3 s  CPU 148.9 s  966 MB  CER 0.086
                    bare-same                wall 228.9 s  CPU 152.4 s  1185 MB  CER 0.076
  5-min slice (--head 300), load 1.4–2.1, back to back:
                    pipeline, 120-s pieces   wall 26.8 s (11.2×)  CPU 44.9 s  1.7 cores busy
                    bare-same                wall 64.9 s (4.6×)   CPU 75.3 s  1.2 cores busy
  CER moves by run: bare-same on the same slice gave 0.186 in one run and 0.093 in the next
  (temperature fallback samples with CTranslate2's per-process random seed), so single-run
  CER differences below ~0.01 on a slice mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
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
    import bisect

    spans = sorted((tr["start"] - 0.3, tr["end"] + 0.3, tr["speaker"]) for tr in turns)
    span_starts = [a for a, _, _ in spans]

    def truth_at(t: float) -> str | None:
        i = bisect.bisect_right(span_starts, t) - 1
        while i >= 0 and spans[i][0] <= t:
            if t <= spans[i][1]:
                return spans[i][2]
            i -= 1
            if i >= 0 and span_starts[i] < t - 120:  # turns are far shorter than two minutes
                break
        return None

    timed = sorted(((a + b) / 2, w, s) for a, b, w, s in words)
    mids = [m for m, _, _ in timed]
    overlap: dict[str, Counter[str]] = defaultdict(Counter)
    for mid, word, spk in timed:
        true = truth_at(mid)
        if true is not None:
            overlap[spk][true] += len(normalize(word))
    mapping = {spk: c.most_common(1)[0][0] for spk, c in overlap.items() if c}
    right = total = 0.0
    for tr in turns:
        n = len(normalize(tr["text"]))
        total += n
        lo = bisect.bisect_left(mids, tr["start"] - 0.3)
        hi = bisect.bisect_right(mids, tr["end"] + 0.3)
        inside = [(w, s) for _, w, s in timed[lo:hi]]
        chars = sum(len(normalize(w)) for w, _ in inside)
        good = sum(len(normalize(w)) for w, s in inside if mapping.get(s) == tr["speaker"])
        right += n * (good / chars) if chars else 0
    return right / max(1, total)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _thread_cpu() -> list[float]:
    """CPU seconds of each thread of this process, busiest first (Linux /proc).

    On a loaded machine the wall clock says little; the busiest thread's CPU is a lower bound
    of the wall time on a quiet one, and total CPU ÷ busiest thread how many cores the work
    could keep busy.
    """
    tick = os.sysconf("SC_CLK_TCK")
    out = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out.append((int(fields[11]) + int(fields[12])) / tick)
    return sorted(out, reverse=True)


_LAST_THREADS: list[float] = []


def _rss_logger() -> object:
    """Progress callback printing RSS to stderr every ~5 min of audio (the long runs' trend)."""
    state = {"next": 0.0, "t0": time.perf_counter()}

    def report(done: float, total: float) -> None:
        # Whisper's threads end with the job: their CPU is read while they still exist.
        _LAST_THREADS[:] = _thread_cpu()
        if done >= state["next"]:
            state["next"] = done + 300.0
            print(f"    [{time.perf_counter() - state['t0']:7.0f} s] audio {done / 60:6.1f} min  "
                  f"RSS {_current_rss_mb():6.0f} MB  peak {_rss_mb():6.0f} MB  "
                  f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)

    return report


def _worker_pipeline(wav: Path, roster: Path) -> dict:
    from speech import JobOptions, MeetingInfo, SpeechSettings, run_minutes_job

    agenda = wav.with_suffix(".agenda.txt")

    with tempfile.TemporaryDirectory() as tmp:
        overrides = json.loads(os.environ.get("MINUTES_BENCH_SETTINGS", "{}"))
        settings = SpeechSettings(data_dir=Path(tmp) / "data", **overrides)
        t0, c0 = time.perf_counter(), time.process_time()
        result = run_minutes_job(
            wav,
            Path(tmp) / "out",
            settings,
            ("txt", "docx", "json", "srt", "vtt"),
            meeting=MeetingInfo(title="霞野市議会定例会"),
            on_progress=_rss_logger(),  # type: ignore[arg-type]
            options=JobOptions(roster=roster, agenda=agenda if agenda.exists() else None),
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        threads = _LAST_THREADS
        names = {s.id: (s.name or f"発言者{s.id}") for s in result.minutes.speakers}
        txt = next(p for p in result.files if p.name.endswith(".minutes.txt")).read_text("utf-8")
    segs = result.minutes.segments
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_mb": _rss_mb(),
        "text": "".join(s.text for s in segs),
        "verbatim": "".join(s.text_verbatim for s in segs),
        "words": [(w.start, w.end, w.word, names[s.speaker]) for s in segs for w in s.words],
        "speakers": sorted(set(names.values())),
        "excerpt": txt.splitlines()[:14],
        "threads": threads[:4],
    }


# faster-whisper as people run it on a 2-core server: one model, both cores as CTranslate2
# threads (the pipeline's own default before it moved to two one-thread workers). Fixed here so
# the baseline does not change when the pipeline's settings do.
BARE_THREADS = 2


def _worker_bare(wav: Path, roster: Path, same: bool) -> dict:
    """faster-whisper alone on the whole file.

    ``same``: the pipeline's decoding options (word timestamps, no carried context, the
    hallucination guards, the roster's and agenda's hotwords); otherwise faster-whisper's
    defaults plus VAD, Japanese and the same beam.
    """
    from faster_whisper import WhisperModel

    from speech import SpeechSettings
    from speech.roster import hotwords, load_agenda, load_roster
    from speech.transcribe import _DECODE_OPTIONS

    s = SpeechSettings()
    t0, c0 = time.perf_counter(), time.process_time()
    model = WhisperModel(
        str(s.model_path), device="cpu", compute_type=s.compute_type, cpu_threads=BARE_THREADS
    )
    options: dict = {}
    if same:
        agenda = wav.with_suffix(".agenda.txt")
        words = hotwords(load_roster(roster), load_agenda(agenda) if agenda.exists() else ())
        options = {**_DECODE_OPTIONS, "hotwords": " ".join(words) or None}
    segments, _ = model.transcribe(
        str(wav), language="ja", beam_size=s.beam_size, vad_filter=True, **options
    )
    text = "".join(seg.text for seg in segments)
    threads = _thread_cpu()
    return {
        "threads": threads[:4],
        "wall": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "rss_mb": _rss_mb(),
        "text": text,
        "verbatim": text,
    }


def _run_worker(kind: str, wav: Path, roster: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.minutes_bench", "--worker", kind, str(wav), str(roster)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed (exit {proc.returncode}; its stderr is above)")
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
        load = os.getloadavg()[0]
        r = _run_worker(kind, wav, roster)
        results[kind] = r
        wav.with_suffix(f".{kind}.txt").write_text(r["text"], encoding="utf-8")
        line = (f"  {kind:<10} wall {r['wall']:7.1f} s  speed {audio_s / r['wall']:5.1f}x  "
                f"CPU {r['cpu']:7.1f} s ({audio_s / r['cpu']:4.1f}x per CPU-s)  "
                f"peak RSS {r['rss_mb']:5.0f} MB  load {load:4.1f}→{os.getloadavg()[0]:4.1f}  "
                f"CER {cer(reference, r['text']):.3f}")
        if kind == "pipeline":
            line += f" (verbatim {cer(reference, r['verbatim']):.3f})"
            acc = speaker_accuracy(turns, [tuple(w) for w in r["words"]])
            line += f"  speaker accuracy {acc:.3f}  speakers {', '.join(r['speakers'])}"
        if r.get("threads"):
            busiest = r["threads"][0]
            top = ", ".join(f"{t:.0f}" for t in r["threads"])
            line += (f"\n    busiest thread {busiest:.1f} CPU-s: cores usable "
                     f"{r['cpu'] / max(busiest, 1e-9):.2f} (top threads' CPU-s {top})")
        print(line, flush=True)
    for bare in ("bare-same", "bare"):
        if "pipeline" in results and bare in results:
            p, b = results["pipeline"], results[bare]
            print(f"  pipeline / {bare}: wall {p['wall'] / b['wall']:.2f}, "
                  f"CPU {p['cpu'] / b['cpu']:.2f}", flush=True)
    if "pipeline" in results:
        print("  excerpt:\n    " + "\n    ".join(results["pipeline"]["excerpt"]), flush=True)


def head(wav: Path, truth: Path, seconds: float) -> tuple[Path, Path]:
    """The first ``seconds`` of a meeting, cut in the pause after the last whole turn.

    For quick measurements (a 5-minute slice); the turns kept are exactly those that end before
    ``seconds``, so the truth matches the audio.
    """
    import wave

    out = wav.with_name(f"{wav.stem}-head{seconds:g}s.wav")
    out_truth = out.with_suffix(".json")
    if out.exists() and out_truth.exists():
        return out, out_truth
    data = json.loads(truth.read_text(encoding="utf-8"))
    kept = [t for t in data["turns"] if t["end"] <= seconds]
    if not kept:
        raise ValueError(f"no whole turn ends within the first {seconds} s of {wav.name}")
    following = [t["start"] for t in data["turns"] if t["start"] >= kept[-1]["end"]]
    cut = min(following[0], kept[-1]["end"] + 1.0) if following else kept[-1]["end"] + 1.0
    with wave.open(str(wav), "rb") as src:
        params = src.getparams()
        frames = src.readframes(int(cut * src.getframerate()))
    tmp = out.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames)
    os.replace(tmp, out)
    out_truth.write_text(json.dumps({**data, "turns": kept}, ensure_ascii=False), encoding="utf-8")
    return out, out_truth


def main() -> None:
    parser = argparse.ArgumentParser(description="minutes pipeline benchmark")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "WAV", "ROSTER"))
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--kinds", default="pipeline,bare-same,bare",
                        help="runs on the short meeting, in this order (comma-separated)")
    parser.add_argument("--long", action="store_true",
                        help="also the one-hour meeting (pipeline and bare-same)")
    parser.add_argument("--hours", type=float, default=0, help="also an N-hour pipeline-only run")
    parser.add_argument("--seed", type=int, default=7, help="script seed (7: the benchmark "
                        "meeting; another seed: a dev meeting from the same sentence cache)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="pipeline SpeechSettings override, e.g. --set workers=1 (JSON value)")
    parser.add_argument("--head", type=float, default=0, metavar="SECONDS",
                        help="only the first SECONDS of the meeting (quick runs, e.g. 300)")
    args = parser.parse_args()
    if args.worker:
        kind, wav, roster = args.worker
        if kind == "pipeline":
            out = _worker_pipeline(Path(wav), Path(roster))
        else:
            out = _worker_bare(Path(wav), Path(roster), same=(kind == "bare-same"))
        print(json.dumps(out, ensure_ascii=False))
        return
    from bench.minutes_meeting import build, repeat

    overrides = {k: json.loads(v) for k, v in (x.split("=", 1) for x in args.set)}
    os.environ["MINUTES_BENCH_SETTINGS"] = json.dumps(overrides)
    if overrides:
        print(f"pipeline settings: {overrides}", flush=True)
    wav, truth = build(args.minutes, args.seed)
    if args.head:
        wav, truth = head(wav, truth, args.head)
    if args.kinds:
        bench(wav, truth, args.kinds.split(","))
    meeting_min = json.loads(truth.read_text(encoding="utf-8"))["turns"][-1]["end"] / 60
    if args.long:
        bench(*repeat(wav, truth, math.ceil(60 / meeting_min)), ["pipeline", "bare-same"])
    if args.hours:
        bench(*repeat(wav, truth, math.ceil(args.hours * 60 / meeting_min)), ["pipeline"])


if __name__ == "__main__":
    main()
