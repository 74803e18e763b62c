"""`rasa test core` on the bot's test stories, against the model the stack trains (cached by
fingerprint, so this costs one model load, not a training run)."""

from __future__ import annotations

import os
import subprocess

import pytest

from adapters.stack import RASA_ENV, rasa_bin, train_model

pytestmark = pytest.mark.slow


def test_every_form_and_rule_story_predicts_its_actions(settings) -> None:  # type: ignore[no-untyped-def]
    model = train_model(settings.rasa)
    out = (settings.storage.data_dir / "core-results").resolve()
    cmd = [str(rasa_bin(settings.rasa)), "test", "core", "--model", str(model), "--stories",
           "tests/test_stories.yml", "--out", str(out), "--fail-on-prediction-errors", "--no-plot"]
    result = subprocess.run(cmd, cwd=settings.rasa.project_dir, env={**os.environ, **RASA_ENV},
                            capture_output=True, text=True, timeout=600, check=False)
    failed = out / "failed_test_stories.yml"
    detail = failed.read_text(encoding="utf-8") if failed.exists() else result.stdout[-3000:]
    assert result.returncode == 0, f"test stories failed:\n{detail}\n{result.stderr[-2000:]}"
