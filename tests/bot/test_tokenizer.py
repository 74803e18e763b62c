"""The bot's tokenizer (``bot/components/sudachi_tokenizer.py``) in the Rasa environment:
Japanese split by Sudachi, Thai phrases split into words by PyThaiNLP, offsets that point
back into the message."""

from __future__ import annotations

import json
import os
import subprocess

from adapters.stack import RASA_ENV, rasa_bin

_SCRIPT = """
import json, sys
from components.sudachi_tokenizer import SudachiTokenizer
from rasa.shared.nlu.training_data.message import Message
out = []
for config, texts in json.loads(sys.argv[1]):
    tokenizer = SudachiTokenizer({**SudachiTokenizer.get_default_config(), **config})
    out.append({text: [[t.text, t.start, t.end]
                       for t in tokenizer.tokenize(Message({"text": text}), "text")]
                for text in texts})
print(json.dumps(out))
"""


def tokenize(settings, *jobs: tuple[dict, list[str]]) -> list[dict[str, list[list]]]:  # type: ignore[no-untyped-def]
    """Tokens of each job's texts with the job's config (one Rasa import for every job)."""
    python = rasa_bin(settings.rasa).parent / "python"
    result = subprocess.run([str(python), "-c", _SCRIPT, json.dumps(jobs)],
                            cwd=settings.rasa.project_dir, env={**os.environ, **RASA_ENV},
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_thai_phrases_become_words_and_other_scripts_keep_their_tokens(settings) -> None:  # type: ignore[no-untyped-def]
    texts = ["ขยะพลาสติกเก็บวันไหน", "ขอบคุณมากครับ บาย", "ทำบัตร My Number", "ゴミの日はいつ",
             "hello there"]
    found, unsplit = tokenize(settings, ({}, texts), ({"thai_words": False}, texts[:1]))
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
