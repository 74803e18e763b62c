"""Held-out intent evaluation of the Rasa NLU, overall and per language.

Splits ``nlu_data/rasa/nlu/<lang>.yml`` 80/20, stratified per intent × language with a fixed
seed; trains an NLU-only model on the 80 % (plus the entity patterns) with the bot's own
``config.yml``; runs ``rasa test nlu`` on the 20 %; and prints intent macro-F1 overall and per
language from its per-example results. Targets (issue 4): ≥ 0.90 overall, ≥ 0.85 per language.

Usage: ``python -m bench.nlu_eval [--seed 42] [--out var/bench/nlu_eval] [--json]``.
Takes a few minutes (one training run); it is a benchmark, not part of the default tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from adapters.settings import Settings
from adapters.stack import RASA_ENV, rasa_bin

ROOT = Path(__file__).resolve().parent.parent
TARGET_OVERALL, TARGET_LANGUAGE = 0.90, 0.85
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Example:
    """One training sentence with its intent and language."""

    text: str  # as written in the data, entity annotations included
    intent: str
    lang: str

    @property
    def plain(self) -> str:
        """The text a resident would type (annotations removed)."""
        return _ANNOTATION.sub(r"\1", self.text)


def load_examples(nlu_dir: Path) -> list[Example]:
    """Every intent example of ``<nlu_dir>/<lang>.yml``."""
    examples = []
    for path in sorted(nlu_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                text = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
                if text:
                    examples.append(Example(text, block["intent"], path.stem))
    return examples


def split(examples: list[Example], seed: int, test_share: float = 0.2) -> tuple[list[Example], list[Example]]:
    """Stratified split per (intent, language); a cell of one example stays in training."""
    cells: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for ex in examples:
        cells[(ex.intent, ex.lang)].append(ex)
    rng = random.Random(seed)
    train, test = [], []
    for key in sorted(cells):
        cell = cells[key][:]
        rng.shuffle(cell)
        n_test = max(1, round(len(cell) * test_share)) if len(cell) > 1 else 0
        test += cell[:n_test]
        train += cell[n_test:]
    return train, test


def write_nlu(examples: list[Example], path: Path, plain: bool = False) -> None:
    """Rasa NLU YAML of ``examples`` grouped by intent."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for ex in examples:
        by_intent[ex.intent].append(ex.plain if plain else ex.text)
    blocks = [{"intent": i, "examples": "".join(f"- {t}\n" for t in texts)}
              for i, texts in sorted(by_intent.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True,
                                   sort_keys=False), encoding="utf-8")


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Macro-averaged F1 over the true intents of (true, predicted) pairs."""
    labels = sorted({t for t, _ in pairs})
    scores = []
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def _rasa(args: list[str], cwd: Path, log: Path) -> None:
    with log.open("ab") as out:
        result = subprocess.run([str(rasa_bin(Settings(_env_file=None).rasa)), *args], cwd=cwd,
                                env={**os.environ, **RASA_ENV}, stdout=out,
                                stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"rasa {args[0]} {args[1]} failed (exit {result.returncode}); see {log}")


def predictions(results: Path) -> dict[tuple[str, str], str]:
    """(text, true intent) → predicted intent, from rasa test nlu's successes and errors."""
    found = {}
    for name in ("intent_successes.json", "intent_errors.json"):
        path = results / name
        if path.exists():
            for item in json.loads(path.read_text(encoding="utf-8")):
                predicted = (item.get("intent_prediction") or {}).get("name") or ""
                found[(item["text"], item["intent"])] = predicted
    return found


def evaluate(seed: int, out: Path, config: Path | None = None) -> dict[str, object]:
    """Split, train, test (with the bot's config.yml unless ``config`` is given); the F1
    table as a dict."""
    settings = Settings(_env_file=None).rasa
    data_dir = (ROOT / settings.data_dir).resolve()
    train, test = split(load_examples(data_dir / "nlu"), seed)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "rasa.log"
    log.write_bytes(b"")
    write_nlu(train, out / "train" / "nlu.yml")
    (out / "train" / "entities.yml").write_text((data_dir / "entities.yml").read_text("utf-8"), "utf-8")
    write_nlu(test, out / "test.yml")
    project = (ROOT / settings.project_dir).resolve()
    started = time.monotonic()
    _rasa(["train", "nlu", "--config", str(config.resolve()) if config else "config.yml", "--nlu", str(out / "train"), "--out",
           str(out / "models"), "--fixed-model-name", "nlu-eval"], project, log)
    train_s = time.monotonic() - started
    _rasa(["test", "nlu", "--model", str(out / "models" / "nlu-eval.tar.gz"), "--nlu",
           str(out / "test.yml"), "--out", str(out / "results"), "--successes", "--no-plot"],
          project, log)
    found = predictions(out / "results")
    pairs_by_lang: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for ex in test:
        pairs_by_lang[ex.lang].append((ex.intent, found.get((ex.plain, ex.intent), "?")))
    every = [p for pairs in pairs_by_lang.values() for p in pairs]
    return {
        "seed": seed, "train_examples": len(train), "test_examples": len(test),
        "train_seconds": round(train_s, 1), "overall": round(macro_f1(every), 4),
        "languages": {lang: {"n": len(p), "macro_f1": round(macro_f1(p), 4)}
                      for lang, p in sorted(pairs_by_lang.items())},
    }


def print_table(report: dict) -> None:
    print(f"intent macro-F1 on a held-out 20 % (seed {report['seed']}; "
          f"{report['train_examples']} train / {report['test_examples']} test; "
          f"NLU training {report['train_seconds']} s)")
    print(f"{'language':<10} {'n':>4} {'macro-F1':>9}")
    for lang, row in report["languages"].items():
        flag = "" if row["macro_f1"] >= TARGET_LANGUAGE else "  < 0.85"
        print(f"{lang:<10} {row['n']:>4} {row['macro_f1']:>9.3f}{flag}")
    flag = "" if report["overall"] >= TARGET_OVERALL else "  < 0.90"
    print(f"{'overall':<10} {report['test_examples']:>4} {report['overall']:>9.3f}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "nlu_eval")
    parser.add_argument("--config", type=Path, help="a pipeline to try instead of bot/config.yml")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    report = evaluate(args.seed, args.out.resolve(), args.config)
    (args.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    ok = report["overall"] >= TARGET_OVERALL and all(
        r["macro_f1"] >= TARGET_LANGUAGE for r in report["languages"].values())
    # No exit code: `make bench` runs every benchmark in one process (bench.run_all).
    print("targets met" if ok else "targets NOT met (≥ 0.90 overall, ≥ 0.85 per language)")


if __name__ == "__main__":
    main()
