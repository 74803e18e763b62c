"""The bot's custom actions, served by rasa_sdk's action server (``rasa run actions``).

rasa_sdk imports this package while it builds its Sanic app ("rasa_sdk"): the action server's
start-up heap is then set aside from the garbage collector once the server has started
(``gc_freeze.py`` says why and measures it).
"""

import gc_freeze

gc_freeze.freeze_after_server_start("rasa_sdk")
