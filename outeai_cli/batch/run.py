"""The batch run: every item through the synthesis core, all their pieces in one pool.

Each item is a split synthesis job (pieces, cache, stitching, atomic commit). A few items are
open at a time; the pieces of all of them share the scheduler's pool, so at most `jobs`
requests are in flight across the batch, with one set of worker threads. The results file
gets a line as each item ends. Interrupted, the run keeps what is complete and commits
nothing partial; the same command finishes the rest without requesting finished items again.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from outeai_cli.batch.inputs import BatchItem
from outeai_cli.batch.ledger import (
    RESULTS_NAME,
    Entry,
    ResultsLog,
    item_key,
    make_record,
    vouching_record,
)
from outeai_cli.errors import (
    APIError,
    AuthenticationError,
    ExitCode,
    InputError,
    InterruptedByUser,
    OuteAIError,
)
from outeai_cli.synthesis.scheduler import InFlight, Note, RunProgress, Scheduler
from outeai_cli.synthesis.synthesize import SynthesisOptions, SynthesisRequest, SynthesisResult
from outeai_cli.voices.speakers import parse_speaker

if TYPE_CHECKING:
    from outeai_cli.http.client import TTSClient
    from outeai_cli.synthesis.job import SynthesisJob

_OPEN_PER_JOB = 2  # items open at once per request slot: enough to keep the pool busy


class BatchSummary(NamedTuple):
    total: int
    ok: int
    skipped: int
    failed: tuple[tuple[str, str], ...]  # (output, error message)
    audio_seconds: float
    elapsed: float
    results: str
    requests: int

    @property
    def made(self) -> int:
        """Items spoken in this run (`ok` also counts those already complete)."""
        return self.ok - self.skipped

    def as_json(self) -> dict[str, Any]:
        """Disjoint counts (made + skipped + failed = total) and the failures by name."""
        data = self._asdict()
        del data["ok"]
        data.update(
            made=self.made,
            failed=len(self.failed),
            failures=[{"output": o, "error": e} for o, e in self.failed],
        )
        return data


class BatchFailedError(OuteAIError):
    """Some items failed; the others were kept."""

    exit_code = ExitCode.FAILURE


@dataclass
class _Tally:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    audio: float = 0.0
    requests: int = 0


def run_batch(
    client: TTSClient,
    items: list[BatchItem],
    out_dir: Path,
    *,
    speaker: str,
    temperature: float,
    custom_voices: frozenset[str] = frozenset(),
    options: SynthesisOptions | None = None,
    force: bool = False,
    results_path: Path | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
) -> BatchSummary:
    """Synthesize every item into `out_dir` (see the module docstring). Never raises for one
    item's failure (the summary lists them); raises for a rejected token or out of credits,
    which would fail every item, and on Ctrl-C (after the finished items are logged)."""
    from outeai_cli.http.client import validate_temperature

    started = time.monotonic()
    options = options or SynthesisOptions()
    results_path = results_path or out_dir / RESULTS_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []
    for index, item in enumerate(items):
        voice = parse_speaker(item.speaker or speaker, custom_voices)
        item_temperature = validate_temperature(
            item.temperature if item.temperature is not None else temperature
        )
        key = item_key(
            client.dialect.name, client.base_url, voice, item_temperature, item.text, item.format
        )
        entries.append(Entry(index, item, voice, item_temperature, key, out_dir / item.output))
    for entry in entries:
        _check_inside(out_dir, entry)

    with ResultsLog(results_path) as log, Scheduler(options.jobs) as scheduler:
        run = _BatchRun(client, entries, options, scheduler, log, on_progress)
        run.start(force)
        run.drive()
    tally = run.tally
    return BatchSummary(
        total=len(entries),
        ok=tally.done,
        skipped=tally.skipped,
        failed=tuple(tally.failed),
        audio_seconds=round(tally.audio, 3),
        elapsed=round(time.monotonic() - started, 3),
        results=os.fspath(results_path),
        requests=tally.requests,
    )


def _check_inside(out_dir: Path, entry: Entry) -> None:
    """Refuse, before any request, an output that a symbolic link already in the output
    directory would send elsewhere (a manifest's names are checked, the links were not)."""
    home = os.path.realpath(out_dir)
    real = os.path.realpath(entry.target)
    if os.path.commonpath([home, real]) != home:
        raise InputError(
            f"{entry.item.where}: {entry.name} leads out of {os.fspath(out_dir)} through a "
            f"symbolic link (to {real})",
            hint="remove the link, or give that item another 'output'",
        )


@dataclass(eq=False)
class _BatchRun:
    client: TTSClient
    entries: list[Entry]
    options: SynthesisOptions
    scheduler: Scheduler
    log: ResultsLog
    on_progress: Callable[[RunProgress], None] | None
    tally: _Tally = field(init=False, default_factory=_Tally)
    waiting: deque[Entry] = field(init=False, default_factory=deque)
    open: dict[SynthesisJob, tuple[Entry, float]] = field(init=False, default_factory=dict)

    def start(self, force: bool) -> None:
        """Skip what is complete already, and say what is left."""
        tally = self.tally
        for entry in self.entries:
            latest = self.log.latest.get(entry.name)
            try:
                record = vouching_record(entry, latest, force)
            except InputError as exc:  # a file that is not ours: left alone, nothing requested
                message = "; ".join([exc.message, *map(str, exc.advice)])
                self.log.append(make_record(entry, "failed", error=message))
                tally.failed.append((entry.name, message))
                self.emit(f"failed {entry.name}: {message}")
                continue
            if record is None:
                self.waiting.append(entry)
                continue
            tally.done += 1
            tally.skipped += 1
            tally.audio += float(record.get("duration") or 0.0)
            if record is not latest:
                self.log.append(record)
        waiting = len(self.waiting)
        self.emit(
            f"{len(self.entries)} items: {tally.skipped} already complete, {waiting} to make"
            + (f", {self.options.jobs} requests at a time" if waiting else "")
        )

    def drive(self) -> None:
        try:
            self._open_more()
            while self.open:
                event = self.scheduler.next_event()
                if isinstance(event, Note):
                    continue  # a piece's note (a retry, a re-split): the item's line speaks for it
                job = cast("SynthesisJob", event.task.owner)
                if job not in self.open:
                    continue  # a late event of an item that already ended
                try:
                    job.handle(event)
                    if not job.complete:
                        self.emit()
                        continue
                    job.finish(self.open[job][1], on_commit=self._succeeded_for(job))
                except BaseException as exc:
                    self._failed(job, exc)
                self._open_more()
        except BaseException as exc:
            for job in list(self.open):
                job.abort(exc)  # their temp files and spool directories go with them
            self.open.clear()
            if not isinstance(exc, Exception) or isinstance(exc, InterruptedByUser):
                # Ctrl-C or SIGTERM, not a refused token: the line reporting the stop says this.
                exc.add_note(
                    f"{self.tally.done} of {len(self.entries)} items are complete and kept; "
                    "the ones in progress left nothing behind; run the same command again to "
                    "finish"
                )
            raise

    def _open_more(self) -> None:
        from outeai_cli.synthesis.job import SynthesisJob

        while self.waiting and len(self.open) < _OPEN_PER_JOB * self.options.jobs:
            entry = self.waiting.popleft()
            options = self.options._replace(language=None, force=entry.overwrite)
            request = SynthesisRequest(entry.item.text, entry.speaker, entry.temperature)
            job = SynthesisJob(
                self.client,
                request,
                entry.target,
                entry.item.format,
                options,
                split=True,  # even a short item: its piece is cached, so a re-run is free
                name=entry.name,
            )
            self.open[job] = (entry, time.monotonic())
            try:
                entry.target.parent.mkdir(parents=True, exist_ok=True)
                job.open(self.scheduler)
                if job.complete:  # every piece came from the cache
                    job.finish(self.open[job][1], on_commit=self._succeeded_for(job))
            except BaseException as exc:
                self._failed(job, exc)

    def _succeeded_for(self, job: SynthesisJob) -> Callable[[SynthesisResult], None]:
        return lambda result: self._succeeded(job, result)

    def _succeeded(self, job: SynthesisJob, result: SynthesisResult) -> None:
        entry, _ = self.open.pop(job)
        tally = self.tally
        finished = tally.done + len(tally.failed) + 1
        self.log.append(make_record(entry, "ok", result=result))
        tally.done += 1
        tally.audio += result.duration or 0.0
        tally.requests += result.requests
        self.emit(
            f"[{finished}/{len(self.entries)}] ok {entry.name} ({result.duration or 0.0:.1f} s of audio)"
        )

    def _failed(self, job: SynthesisJob, exc: BaseException) -> None:
        """One item failed: keep going, unless every other item would fail the same way."""
        opened = self.open.pop(job, None)
        job.abort(exc)
        if opened is None:  # it failed after its commit: not an item's failure
            raise exc
        entry = opened[0]
        if isinstance(exc, InterruptedByUser) or not isinstance(exc, OuteAIError):
            raise exc  # the run's interrupt or a bug, not an item's failure
        tally = self.tally
        finished = tally.done + len(tally.failed) + 1
        message = exc.message + (f"; {exc.hint}" if exc.hint else "")
        self.log.append(make_record(entry, "failed", error=message))
        tally.failed.append((entry.name, message))
        self.emit(f"[{finished}/{len(self.entries)}] failed {entry.name}: {message}")
        if isinstance(exc, AuthenticationError) or (
            isinstance(exc, APIError) and exc.status == 402
        ):
            raise exc  # every other item would fail the same way

    def emit(self, note: str | None = None) -> None:
        if self.on_progress is None:
            return
        tally = self.tally
        flying: list[InFlight] = []
        for job in sorted(self.open, key=lambda j: self.open[j][0].index):
            flying.extend(job.requests_in_flight())
        self.on_progress(
            RunProgress(
                done=tally.done,
                total=len(self.entries),
                reused=tally.skipped,
                failed=len(tally.failed),
                audio_seconds=tally.audio,
                in_flight=tuple(flying),
                note=note,
            )
        )
