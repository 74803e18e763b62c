"""Runs in the Rasa environment (``.venv-rasa``; cwd = the bot project, so the custom
components resolve): parses every text of a JSON list with a trained model and prints, as
JSON, each text's predicted intent and confidence.

Every message goes through the model's own inference graph (tokenizer, featurizers, DIET,
FallbackClassifier) as ``rasa test nlu`` sends it, and like ``rasa test nlu`` a fallback
prediction is undone so that the intent DIET chose is scored (``fallback`` says whether the
bot would have handed the message to the FAQ action instead). Unlike ``rasa test nlu``, the
messages go in one batch instead of one call per message: on two shared cores ``rasa test nlu`` spent minutes on 300 sentences, most of it
one e5 call per message. Used by ``bench/nlu_eval.py``.

Usage: ``python bench/rasa_parse.py MODEL.tar.gz TEXTS.json``
"""

import json
import os
import sys

sys.path.insert(0, os.getcwd())

from rasa.core.agent import Agent  # noqa: E402
from rasa.core.channels.channel import UserMessage  # noqa: E402
from rasa.core.processor import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER  # noqa: E402
from rasa.nlu.classifiers import fallback_classifier  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402


def main() -> None:
    model, texts_path = sys.argv[1], sys.argv[2]
    with open(texts_path, encoding="utf-8") as handle:
        texts = json.load(handle)
    processor = Agent.load(model).processor
    target = processor.model_metadata.nlu_target
    results = processor.graph_runner.run(
        inputs={PLACEHOLDER_MESSAGE: [UserMessage(text) for text in texts],
                PLACEHOLDER_TRACKER: DialogueStateTracker("nlu-eval", [])},
        targets=[target],
    )
    parsed = []
    for message in results[target]:
        data = message.as_dict(only_output_properties=False)
        fallback = fallback_classifier.is_fallback_classifier_prediction(data)
        if fallback:
            data = fallback_classifier.undo_fallback_prediction(data)
        intent = data.get("intent") or {}
        parsed.append({"text": data.get("text"), "intent": intent.get("name"),
                       "confidence": intent.get("confidence"), "fallback": fallback})
    print(json.dumps(parsed, ensure_ascii=False))


if __name__ == "__main__":
    main()
