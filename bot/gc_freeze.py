"""The start-up heap of the Rasa server and the action server set aside from the garbage
collector (issue 8): ``gc.collect()`` then ``gc.freeze()`` once what a process builds at start
is built.

Why: a Rasa server holds ~1.77 million tracked objects once its model is loaded (TensorFlow,
SQLAlchemy, the model graph), the action server ~0.14 million (Sanic, rasa_sdk, aiohttp).
CPython's full (generation 2) collection walks all of them, and they never become garbage:
measured under ``bench.load`` at 50 msg/s (``gc.callbacks`` timing, thread CPU clock), one
full collection took 0.56 s in a Rasa process (the event loop stops meanwhile, so every
conversation in flight waits) and 73-79 ms in the action server, which ran one every ~30 s
(0.05 ms a message, ~2 % of its CPU). Frozen objects are kept in a permanent generation that
collections do not walk; objects made later are collected as before. Nothing frozen is
garbage (the collection just before found none left), so no memory is held that would have
been freed, and no object's behaviour changes.

``MADOGUCHI_RASA_SPEEDUPS_SKIP=gc_freeze`` leaves the collector as it is, for A/B.
"""

import gc
import logging
import os
import time

log = logging.getLogger(__name__)


def enabled() -> bool:
    """False when ``gc_freeze`` is named in ``MADOGUCHI_RASA_SPEEDUPS_SKIP`` (or all Rasa
    speedups are off with ``MADOGUCHI_RASA_SPEEDUPS=off``)."""
    skipped = {name.strip().lower() for name in
               os.environ.get("MADOGUCHI_RASA_SPEEDUPS_SKIP", "").split(",")}
    off = os.environ.get("MADOGUCHI_RASA_SPEEDUPS", "on").strip().lower() in ("0", "off", "false")
    return "gc_freeze" not in skipped and not off


def freeze_heap(what: str) -> int:
    """Collect once, then freeze every object left (see above); the number frozen in all
    (0 when switched off). ``what`` names the moment in the log line."""
    if not enabled():
        return 0
    start = time.process_time()
    gc.collect()
    gc.freeze()
    log.info("madoguchi: %d objects set aside from the garbage collector in pid %d after %s "
             "(%.0f ms CPU)", gc.get_freeze_count(), os.getpid(), what,
             (time.process_time() - start) * 1000)
    return gc.get_freeze_count()


def freeze_after_server_start(app_name: str) -> bool:
    """Freeze in the Sanic app ``app_name``'s serving process once it has started (all
    imports, the app and its routes made); False when there is no such app in this process
    (the app's own tests import the bot's pure modules without Sanic installed)."""
    try:
        from sanic import Sanic
        from sanic.exceptions import SanicException
    except ImportError:
        return False
    try:
        app = Sanic.get_app(app_name)
    except SanicException:
        return False

    async def freeze(*_: object) -> None:
        freeze_heap("the server started")

    app.register_listener(freeze, "after_server_start")
    return True
