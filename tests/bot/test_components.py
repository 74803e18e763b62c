"""The bot's custom NLU components in the Rasa environment: the tokenizer
(``components/sudachi_tokenizer.py``: Japanese split by Sudachi, Thai phrases split into words
by PyThaiNLP, offsets that point back into the message) and the guard against word-less
messages (``components/no_words.py``)."""

from __future__ import annotations

import json
import os
import subprocess

from adapters.stack import RASA_ENV, rasa_bin

_SCRIPT = """
import json, sys
from components.no_words import NoWordsGuard
from components.sudachi_tokenizer import SudachiTokenizer
from rasa.shared.nlu.training_data.message import Message
guard = NoWordsGuard(NoWordsGuard.get_default_config())
guarded = []
for text in json.loads(sys.argv[2]):
    message = Message({"text": text, "intent": {"name": "thanks", "confidence": 0.9},
                       "intent_ranking": [{"name": "thanks", "confidence": 0.9}]})
    guarded.append(guard.process([message])[0].get("intent")["confidence"])
out = [guarded]
for config, texts in json.loads(sys.argv[1]):
    tokenizer = SudachiTokenizer({**SudachiTokenizer.get_default_config(), **config})
    out.append({text: [[t.text, t.start, t.end]
                       for t in tokenizer.tokenize(Message({"text": text}), "text")]
                for text in texts})
print(json.dumps(out))
"""


def run_components(settings, guarded: list[str], *jobs: tuple[dict, list[str]]) -> list:  # type: ignore[no-untyped-def]
    """The intent confidence NoWordsGuard leaves on each ``guarded`` text (DIET said 0.9),
    then the tokens of each job's texts with the job's tokenizer config (one Rasa import)."""
    python = rasa_bin(settings.rasa).parent / "python"
    result = subprocess.run([str(python), "-c", _SCRIPT, json.dumps(jobs), json.dumps(guarded)],
                            cwd=settings.rasa.project_dir, env={**os.environ, **RASA_ENV},
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_tokenizer_splits_thai_and_the_guard_drops_only_word_less_messages(settings) -> None:  # type: ignore[no-untyped-def]
    texts = ["ขยะพลาสติกเก็บวันไหน", "ขอบคุณมากครับ บาย", "ทำบัตร My Number", "ゴミの日はいつ",
             "hello there"]
    guarded = {"😀🎉😀": 0.0, "???": 0.0, "🙏": 0.9, "👍🏻": 0.9, "ok 😀": 0.9, "ありがとう🎉": 0.9,
               "cảm ơn ạ": 0.9}
    confidences, found, unsplit = run_components(
        settings, list(guarded), ({}, texts), ({"thai_words": False}, texts[:1]))
    assert dict(zip(guarded, confidences)) == guarded
    for text, tokens in found.items():
        assert all(text[start:end] == word for word, start, end in tokens), (text, tokens)
    words = {text: [t[0] for t in tokens] for text, tokens in found.items()}
    assert words["ขยะพลาสติกเก็บวันไหน"][:2] == ["ขยะ", "พลาสติก"]
    assert "ขอบคุณ" in words["ขอบคุณมากครับ บาย"] and "บาย" in words["ขอบคุณมากครับ บาย"]
    assert words["ทำบัตร My Number"] == ["ทำ", "บัตร", "My", "Number"]
    assert words["ゴミの日はいつ"] == ["ゴミ", "の", "日", "は", "いつ"]
    assert words["hello there"] == ["hello", "there"]
    # Turned off, a Thai phrase is one token, as Sudachi gives it.
    assert [t[0] for t in unsplit["ขยะพลาสติกเก็บวันไหน"]] == ["ขยะพลาสติกเก็บวันไหน"]
