"""Importers: the Digital Agency FAQ CSV (UTF-8 and Shift_JIS), a 5374-style garbage table and
BEIR files become KB files the loader accepts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval import KnowledgeBaseError, load_kb
from retrieval.importers import import_beir, import_faq_csv, import_garbage_csv, write_yaml

ROOT = Path(__file__).resolve().parents[2]
FAQ_CSV = """\
全国地方公共団体コード,ID,地方公共団体名,分類,質問,回答,所管部署,電話番号,URL
082015,1,霞野市,子育て,保育所の申込はいつまでですか,4月入所は12月10日までです。,こども家庭課,0299-00-1234,https://www.city.example.jp/hoiku
082015,2,霞野市,ごみ・リサイクル,粗大ごみの出し方,電話で予約してください。,環境課,,
"""


def _kb_dir(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(ROOT / "nlu_data" / "kb" / "departments.yml", kb / "departments.yml")
    return kb


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_faq_csv_in_any_common_encoding(tmp_path: Path, encoding: str) -> None:
    src = tmp_path / "faq.csv"
    src.write_bytes(FAQ_CSV.encode(encoding))
    data = import_faq_csv(src, "https://www.city.example.jp/faq")
    kb_dir = _kb_dir(tmp_path)
    write_yaml(data, kb_dir / "imported.yml", "test")
    kb = load_kb(kb_dir)
    first, second = kb.entry("faq.1"), kb.entry("faq.2")
    assert first.category == "childcare" and second.category == "garbage"
    assert first.source_url == "https://www.city.example.jp/hoiku"
    assert second.source_url == "https://www.city.example.jp/faq"
    assert kb.department(first.department).phone == "0299-00-1234"
    assert kb.department(second.department).name["ja"] == "環境課"


def test_faq_csv_without_question_column_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("番号,内容\n1,なにか\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="bad.csv:1: no column for question, answer"):
        import_faq_csv(src, "https://www.city.example.jp/")


def test_garbage_table(tmp_path: Path) -> None:
    src = tmp_path / "target.csv"
    src.write_text(
        "label,name,notice,furigana\n燃やすごみ,フライパン,,ふらいぱん\n資源ごみ,空き缶,中をすすぐ,あきかん\n",
        encoding="utf-8",
    )
    kb_dir = _kb_dir(tmp_path)
    write_yaml(import_garbage_csv(src, "https://www.city.example.jp/gomi", "kankyo"),
               kb_dir / "items.yml", "test")
    kb = load_kb(kb_dir)
    can = [e for e in kb.entries if "空き缶" in e.answers["ja"]][0]
    assert "資源ごみ" in can.answers["ja"] and "中をすすぐ" in can.answers["ja"]
    assert can.department == "kankyo"


def test_beir_corpus_and_cli(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps({"_id": "d1", "title": "住民票の写し", "text": "市民課で1通300円です。"},
                   ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    assert import_beir(corpus, "https://x.example.jp/")["entries"][0]["id"] == "beir.d1"
    out = tmp_path / "kb" / "beir.yml"
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "kb", "import", "beir", str(corpus), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.exists() and "wrote 1 rows" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "kb", "import", "xml", str(corpus)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: unknown format 'xml'")
    assert "Traceback" not in bad.stderr
