"""Messages without any word ("😀🎉😀", "???") are not understood, whatever DIET says.

DIET always ranks some intent first, and for a string of emoji it is a guess: which intent
wins depends on the training run (a retrained model once answered "😀🎉😀" with the thanks
reply). This component, placed between DIET and the FallbackClassifier, sets the confidence
of a word-less message to 0, so the FallbackClassifier routes it to ``nlu_fallback`` and the
FAQ action asks the resident to write in words. The few symbols the training data gives a
meaning (🙏 thanks, 👋 hello, 👍/👎 feedback) are listed in ``understood`` and pass through.
"""

import re
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

# Letters and digits of the eleven languages' scripts (Latin with Vietnamese, Thai, kana,
# kanji, Hangul); anything else is a symbol.
_WORD = re.compile(r"[0-9A-Za-z\u00c0-\u024f\u1e00-\u1eff\u0e00-\u0e7f\u3040-\u30ff"
                   r"\u3400-\u9fff\uac00-\ud7af\uff10-\uff5a]")

# Emoji variation selector, zero-width joiner and skin tones: 👍🏻 is still 👍.
_MODIFIERS = set("\ufe0f\u200d") | {chr(c) for c in range(0x1F3FB, 0x1F400)}


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class NoWordsGuard(GraphComponent, IntentClassifier):
    """Zeroes the intent confidence of a message with no word and no understood symbol."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"understood": "🙏👋👍👎"}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._understood = set(config.get("understood") or "")

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "NoWordsGuard":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if self._unreadable(message.get(TEXT) or "") and message.get(INTENT):
                intent = {**message.get(INTENT), "confidence": 0.0}
                ranking = [{**r, "confidence": 0.0} for r in message.get(INTENT_RANKING_KEY) or []]
                message.set(INTENT, intent, add_to_output=True)
                message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def _unreadable(self, text: Text) -> bool:
        """No word, and not only understood symbols (variation selectors and spaces aside)."""
        if _WORD.search(text):
            return False
        symbols = {c for c in text if not c.isspace() and c not in _MODIFIERS}
        return not symbols or not symbols <= self._understood
