"""The ``madoguchi`` command line.

``serve`` runs the whole stack; ``chat`` talks to a running gateway; ``search`` and ``kb``
work on the knowledge base in-process; ``bot train`` trains Rasa when its data changed;
``minutes`` and ``models`` come from ``adapters.cli_minutes``. Errors are one line on
stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from adapters.cli_line import line_app
from adapters.cli_minutes import minutes_app, models_app
from adapters.cli_retention import retention_app
from adapters.cli_user import user_app
from adapters.errors import AdapterError
from adapters.settings import Settings
from retrieval import RetrievalError, Retriever

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n\n")[0])
kb_app = typer.Typer(no_args_is_help=True, help="Build and inspect the FAQ knowledge base.")
bot_app = typer.Typer(no_args_is_help=True, help="The Rasa bot.")
retrieval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval on your own data.")
app.add_typer(kb_app, name="kb")
app.add_typer(retrieval_app, name="retrieval")
app.add_typer(bot_app, name="bot")
app.add_typer(minutes_app, name="minutes")
app.add_typer(models_app, name="models")
app.add_typer(line_app, name="line")
app.add_typer(user_app, name="user")
app.add_typer(retention_app, name="retention")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _retriever(settings: Settings) -> Retriever:
    retriever = Retriever(settings.retrieval)
    try:
        retriever.warm_up()
    except RetrievalError as exc:
        _fail(str(exc))
    return retriever


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="gateway port (default 8000)")] = None,
    no_rasa: Annotated[bool, typer.Option(help="gateway only (retrieval answers)")] = False,
    replicas: Annotated[
        int, typer.Option(min=1, help="gateway processes sharing the port (SO_REUSEPORT)")
    ] = 1,
    reuse_port: Annotated[
        bool, typer.Option(help="let other gateway processes bind this port too")
    ] = False,
) -> None:
    """Run the whole stack: Rasa server, action server and gateway; Ctrl-C stops them all."""
    from adapters.security import check_secrets
    from adapters.serve import run_stack

    settings = Settings()
    if port:
        settings.gateway.port = port
    if reuse_port:
        settings.gateway.reuse_port = True
    try:
        check_secrets(settings)  # before any process starts: the error names what to fix
        run_stack(settings, with_rasa=not no_rasa, replicas=replicas)
    except AdapterError as exc:
        _fail(str(exc))


@app.command()
def chat(
    message: Annotated[str, typer.Argument(help="what a resident would type")],
    sender: str = "cli",
    lang: Annotated[str | None, typer.Option(help="force the language (ja, en, …)")] = None,
    url: Annotated[str | None, typer.Option(help="gateway URL")] = None,
) -> None:
    """Ask the running gateway one question, as a resident would."""
    settings = Settings()
    base = url or f"http://{settings.gateway.host}:{settings.gateway.port}"
    body: dict[str, Any] = {"sender": sender, "message": message}
    if lang:
        body["metadata"] = {"lang": lang}
    try:
        response = httpx.post(f"{base}/api/chat", json=body, timeout=30)
    except httpx.HTTPError:
        _fail(f"no gateway at {base}; start it with `madoguchi serve` (or `make run`)")
    if response.status_code != 200:
        _fail(f"gateway answered {response.status_code}: {response.text[:300]}")
    mode = response.headers.get("X-Madoguchi-Mode", "?")
    for msg in response.json():
        if msg.get("text"):
            typer.echo(msg["text"])
        for button in msg.get("buttons") or []:
            typer.echo(f"  [{button['title']}]")
    if mode == "degraded":
        typer.echo("(degraded: answered from retrieval alone; Rasa is not reachable)", err=True)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="the question")],
    lang: Annotated[str | None, typer.Option(help="language code; detected if omitted")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=50)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Search the knowledge base directly (no dialogue) and show the ranked entries."""
    retriever = _retriever(Settings())
    try:
        hits = retriever.search(query, lang=lang, top_k=top_k)
    except RetrievalError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
        return
    for rank, hit in enumerate(hits, 1):
        typer.echo(f"{rank}. {hit.entry_id}  cos={hit.dense:.3f} bm25={hit.lexical:.2f}  {hit.question}")


@kb_app.command("build")
def kb_build(force: Annotated[bool, typer.Option(help="rebuild even if up to date")] = False) -> None:
    """Validate the knowledge base and build its index (only if stale, unless --force)."""
    settings = Settings()
    retriever = Retriever(settings.retrieval)
    try:
        built = retriever.warm_up(force_rebuild=force)
    except RetrievalError as exc:
        _fail(str(exc))
    state = "built" if built else "up to date"
    typer.echo(f"index {state}: {len(retriever.kb.entries)} entries in {settings.retrieval.index_dir}")


@kb_app.command("import")
def kb_import(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="faq-csv | garbage-csv | beir")],
    path: Annotated[Path, typer.Argument(help="the file (or BEIR directory) to import")],
    out: Annotated[Path | None, typer.Option(help="YAML file to write")] = None,
    source_url: Annotated[str, typer.Option(help="URL for rows without their own")] = "",
    encoding: Annotated[str, typer.Option(help="auto, utf-8, cp932 …")] = "auto",
    department: Annotated[str, typer.Option(help="department key (garbage tables)")] = "general",
) -> None:
    """Convert a city's FAQ CSV, 5374-style garbage table or BEIR corpus into a KB file."""
    from retrieval import importers

    settings = Settings()
    if fmt not in importers.FORMATS:
        _fail(f"unknown format '{fmt}' (expected one of {', '.join(importers.FORMATS)})")
    if not path.exists():
        _fail(f"{path} not found")
    url = source_url or "https://www.city.example.jp/"
    try:
        if fmt == "faq-csv":
            data = importers.import_faq_csv(path, url, encoding)
        elif fmt == "garbage-csv":
            data = importers.import_garbage_csv(path, url, department, encoding)
        else:
            data = importers.import_beir(path, url)
    except RetrievalError as exc:
        _fail(str(exc))
    target = out or settings.retrieval.kb_path / f"imported-{path.stem}.yml"
    importers.write_yaml(data, target, f"Imported from {path.name} ({fmt}) by `madoguchi kb import`.")
    count = len(data.get("entries") or data.get("garbage_items") or [])
    typer.echo(f"wrote {count} rows to {target}; check it with `madoguchi kb stats`")


@kb_app.command("stats")
def kb_stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Entries, categories and languages covered per entry."""
    from retrieval import LANGUAGES, load_kb

    settings = Settings()
    try:
        kb = load_kb(settings.retrieval.kb_path)
    except RetrievalError as exc:
        _fail(str(exc))
    categories: dict[str, int] = {}
    for entry in kb.entries:
        categories[entry.category] = categories.get(entry.category, 0) + 1
    per_lang = {lang: sum(lang in e.answers for e in kb.entries) for lang in LANGUAGES}
    complete = sum(all(lang in e.answers for lang in LANGUAGES) for e in kb.entries)
    stats = {
        "entries": len(kb.entries),
        "categories": categories,
        "answers_per_language": per_lang,
        "entries_with_all_languages": complete,
        "departments": len(kb.departments),
    }
    if as_json:
        typer.echo(json.dumps(stats, ensure_ascii=False, indent=2))
        return
    for key, value in stats.items():
        typer.echo(f"{key}: {value}")


@retrieval_app.command("eval")
def retrieval_eval(
    corpus: Annotated[Path, typer.Option(help="BEIR corpus.jsonl (title = question, text = answer)")],
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl")],
    qrels: Annotated[Path, typer.Option(help="BEIR qrels TSV")],
    run_out: Annotated[Path | None, typer.Option(help="write the ranked run here (JSON lines)")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=1000)] = 10,
    lang: Annotated[str | None, typer.Option(help="query language; detected if omitted")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recall@10, nDCG@10, MRR@10 and Hit@1 of the retriever on BEIR-format files."""
    from adapters.evaluation import run_eval

    try:
        metrics = run_eval(Settings(), corpus, queries, qrels, run_out, top_k, lang)
    except RetrievalError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(asdict(metrics)))
        return
    typer.echo(f"queries     {metrics.queries}")
    typer.echo(f"Recall@10   {metrics.recall_at_10:.4f}")
    typer.echo(f"nDCG@10     {metrics.ndcg_at_10:.4f}")
    typer.echo(f"MRR@10      {metrics.mrr_at_10:.4f}")
    typer.echo(f"Hit@1       {metrics.hit_at_1:.4f}")


@bot_app.command("train")
def bot_train(force: Annotated[bool, typer.Option(help="train even if up to date")] = False) -> None:
    """Train the Rasa model, only when its config or training data changed."""
    from adapters.stack import model_fingerprint, train_model

    settings = Settings()
    existing = settings.rasa.model_dir / f"madoguchi-{model_fingerprint(settings.rasa)}.tar.gz"
    if existing.exists() and not force:
        typer.echo(f"Rasa model up to date: {existing}")
        return
    typer.echo("training the Rasa model (about a minute)…")
    try:
        model = train_model(settings.rasa, force=force)
    except AdapterError as exc:
        _fail(str(exc))
    typer.echo(f"Rasa model trained: {model}")


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Residents type phone numbers, addresses, マイナンバー: nothing reaches a log unmasked.
    from adapters.privacy import install_log_masking

    install_log_masking()
    app()


if __name__ == "__main__":
    main()
