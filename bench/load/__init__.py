"""Load harness for the resident channels (issue 8): ``python -m bench.load``.

Simulated residents on loopback send questions through the gateway's REST chat
(``POST /api/chat``) and as signed LINE webhooks (``POST /line/webhook``, answered through a
fake LINE Messaging API run by the harness), then the same messages, at the same
concurrency, straight to Rasa's REST channel ("bare Rasa"). It prints throughput,
p50/p95/p99 latency and errors for both, and their ratio.

``messages`` builds the residents and their questions from ``bench/data``; ``fake_line`` is
the LINE API the gateway replies to; ``harness`` runs the phases and prints the figures.
"""
