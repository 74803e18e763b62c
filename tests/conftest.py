"""Shared fixtures: settings pointing at a test data dir, one warmed-up retriever, and (for
the dialogue tests) a real Rasa server + action server + gateway started once per session."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_VAR = ROOT / "var" / "test"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("KOKORO_JA_CACHE", str(ROOT / "var" / "cache" / "kokoro"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def settings():  # type: ignore[no-untyped-def]
    from adapters.settings import Settings

    os.chdir(ROOT)
    s = Settings(_env_file=None)
    s.retrieval.index_dir = TEST_VAR / "index"
    s.storage.data_dir = TEST_VAR
    s.rasa.model_dir = TEST_VAR / "models"
    return s


@pytest.fixture(scope="session")
def retriever(settings):  # type: ignore[no-untyped-def]
    from retrieval import Retriever

    r = Retriever(settings.retrieval)
    r.warm_up()
    return r


@pytest.fixture
def tmp_copy_kb(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the sample KB."""
    dest = tmp_path / "kb"
    shutil.copytree(ROOT / "nlu_data" / "kb", dest)
    yield dest
