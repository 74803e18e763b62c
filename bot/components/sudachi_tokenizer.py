"""A Rasa tokenizer built on Sudachi (mode A), for Japanese and the other languages alike.

Rasa's WhitespaceTokenizer refuses ``language: ja`` and its emoji filter eats kana, kanji
and Hangul, so a Japanese sentence would become a single token. Sudachi splits Japanese
into words and still splits Latin-script text on spaces; the lemma is Sudachi's normalised
form, so 申し込み/申込み/申込 share features.

Thai has no spaces between words either, and Sudachi returns a whole Thai phrase as one
"symbol": the word-count features then see one feature per distinct sentence. Thai runs are
therefore split again with PyThaiNLP's dictionary tokenizer (newmm, offline, pure Python).
"""

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

_SKIP_POS = {"空白"}
_THAI = re.compile(r"[\u0e00-\u0e7f]")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class SudachiTokenizer(Tokenizer):
    """Tokenizes every language with Sudachi; whitespace tokens are dropped."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # Split Thai phrases into words with PyThaiNLP (False: one token per phrase).
            "thai_words": True,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        from sudachipy import Dictionary, SplitMode

        self._tokenizer = Dictionary().tokenizer(mode=SplitMode.A)
        self._thai_words = _thai_word_tokenizer() if config.get("thai_words", True) else None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SudachiTokenizer":
        return cls(config)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sudachipy", "pythainlp"]

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return None

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        tokens = []
        for morpheme in self._tokenizer.tokenize(text):
            surface = morpheme.surface()
            if not surface.strip() or morpheme.part_of_speech()[0] in _SKIP_POS:
                continue
            if self._thai_words and _THAI.search(surface):
                tokens.extend(self._thai(surface, morpheme.begin()))
                continue
            tokens.append(
                Token(
                    surface,
                    morpheme.begin(),
                    morpheme.end(),
                    lemma=morpheme.normalized_form(),
                )
            )
        return self._apply_token_pattern(tokens)

    def _thai(self, surface: Text, begin: int) -> List[Token]:
        """Thai words of one Sudachi morpheme, with offsets in the message."""
        tokens, at = [], 0
        for word in self._thai_words(surface):
            start = surface.find(word, at)
            if not word.strip() or start < 0:
                continue
            at = start + len(word)
            tokens.append(Token(word, begin + start, begin + at, lemma=word))
        return tokens


def _thai_word_tokenizer():
    """PyThaiNLP's newmm word tokenizer (its word list ships in the wheel; nothing is fetched)."""
    from pythainlp.tokenize import word_tokenize

    return lambda text: word_tokenize(text, engine="newmm", keep_whitespace=False)
