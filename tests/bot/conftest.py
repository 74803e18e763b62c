"""The bot's pure modules (``bot/actions/{parsing,language,rules}.py``) have no Rasa imports,
so the app's test run (Python 3.11) imports them straight from ``bot/``."""

from __future__ import annotations

import sys
from pathlib import Path

BOT_DIR = Path(__file__).resolve().parents[2] / "bot"
if str(BOT_DIR) not in sys.path:
    sys.path.insert(0, str(BOT_DIR))
