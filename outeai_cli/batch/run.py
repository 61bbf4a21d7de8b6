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
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from outeai_cli.batch.inputs import BatchItem
from outeai_cli.batch.ledger import RESULTS_NAME, Entry, ResultsLog, make_record, vouching_record
from outeai_cli.errors import APIError, AuthenticationError, ExitCode, InputError, OuteAIError
from outeai_cli.synthesis.audio_key import audio_key_for
from outeai_cli.synthesis.job import Job, JobSpec
from outeai_cli.synthesis.progress import RunProgress
from outeai_cli.synthesis.run import Run
from outeai_cli.synthesis.types import SynthesisOptions, SynthesisRequest, SynthesisResult
from outeai_cli.voices.speakers import Speaker, parse_speaker

if TYPE_CHECKING:
    from outeai_cli.http.client import TTSClient

_OPEN_PER_JOB = 2  # items open at once per request slot, at most


class BatchSummary(NamedTuple):
    total: int
    ok: int
    skipped: int
    failed: tuple[tuple[str, str], ...]  # (output, error message)
    audio_seconds: float
    elapsed: float
    results: str
    requests: int
    silent: tuple[str, ...] = ()  # outputs made in this run whose audio is silent

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


def run_batch(
    client: TTSClient,
    items: list[BatchItem],
    out_dir: Path,
    *,
    speaker: Speaker,
    temperature: float,
    custom_voices: frozenset[str] = frozenset(),
    options: SynthesisOptions | None = None,
    force: bool = False,
    results_path: Path | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
) -> BatchSummary:
    """Synthesize every item into `out_dir` (see the module docstring), in the voice and at
    the temperature of the item, else `speaker` and `temperature` (checked by the caller).

    Never raises for one item's failure (the summary lists them); raises for a rejected token
    or out of credits, which would fail every item, and on Ctrl-C (after the finished items
    are logged)."""
    started = time.monotonic()
    options = options or SynthesisOptions()
    results_path = results_path or out_dir / RESULTS_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    voices: dict[str, Speaker] = {}  # each distinct speaker of the manifest, parsed once
    entries: list[Entry] = []
    for index, item in enumerate(items):
        voice = speaker
        if item.speaker is not None:
            voice = voices.get(item.speaker) or parse_speaker(item.speaker, custom_voices)
            voices[item.speaker] = voice
        # (a manifest's temperature was checked when it was read)
        chosen = temperature if item.temperature is None else item.temperature
        key = audio_key_for(client, voice, chosen, item.text, item.format)
        entries.append(Entry(index, item, voice, chosen, key, out_dir / item.output))
    for entry in entries:
        _check_inside(out_dir, entry)

    with (
        ResultsLog(results_path) as log,
        Run(
            client,
            workers=options.jobs,
            unit="items",
            on_progress=on_progress,
            max_open=_OPEN_PER_JOB * options.jobs,
        ) as run,
    ):
        batch = _Batch(run, log, options, len(entries))
        run.tally.total = len(entries)
        batch.start(entries, force)
        run.drive()
    tally = run.tally
    return BatchSummary(
        total=len(entries),
        ok=tally.done,
        skipped=tally.reused,
        failed=tuple(tally.failed),
        audio_seconds=round(tally.audio, 3),
        elapsed=round(time.monotonic() - started, 3),
        results=os.fspath(results_path),
        requests=tally.requests,
        silent=tuple(batch.silent),
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


class _Batch:
    """The batch's side of its run: what is complete already, and a results line per item."""

    def __init__(self, run: Run, log: ResultsLog, options: SynthesisOptions, total: int) -> None:
        self.run = run
        self.log = log
        self.options = options
        self.total = total
        self.entries: dict[Job, Entry] = {}
        self.silent: list[str] = []  # outputs made whose audio is silent

    def start(self, entries: list[Entry], force: bool) -> None:
        """Skip what is complete already, say what is left, and submit it."""
        tally = self.run.tally
        waiting: list[Entry] = []
        for entry in entries:
            latest = self.log.latest.get(entry.name)
            try:
                record = vouching_record(entry, latest, force)
            except InputError as exc:  # a file that is not ours: left alone, nothing requested
                message = "; ".join([exc.message, *map(str, exc.advice)])
                self.log.append(make_record(entry, "failed", error=message))
                tally.failed.append((entry.name, message))
                self.run.say(f"failed {entry.name}: {message}")
                continue
            if record is None:
                waiting.append(entry)
                continue
            tally.done += 1
            tally.reused += 1
            tally.audio += float(record.get("duration") or 0.0)
            if record is not latest:
                self.log.append(record)
        self.run.say(
            f"{len(entries)} items: {tally.reused} already complete, {len(waiting)} to make"
            + (f", {self.options.jobs} requests at a time" if waiting else "")
        )
        for entry in waiting:
            spec = JobSpec(
                SynthesisRequest(entry.item.text, entry.speaker, entry.temperature),
                entry.target,
                entry.item.format,
                self.options._replace(language=None, force=entry.overwrite),
                split=True,  # even a short item: its piece is cached, so a re-run is free
                name=entry.name,
                make_parent=True,
            )
            job = self.run.submit(
                spec, on_result=partial(self._succeeded, entry), on_failure=self._failed
            )
            self.entries[job] = entry

    def _succeeded(self, entry: Entry, result: SynthesisResult) -> None:
        tally = self.run.tally
        finished = tally.done + len(tally.failed) + 1
        self.log.append(make_record(entry, "ok", result=result))
        tally.done += 1
        tally.audio += result.duration or 0.0
        tally.requests += result.requests
        if result.silent:
            self.silent.append(entry.name)
        silent = ", silent: no sample above -60 dBFS" if result.silent else ""
        self.run.say(
            f"[{finished}/{self.total}] ok {entry.name} "
            f"({result.duration or 0.0:.1f} s of audio{silent})"
        )

    def _failed(self, job: Job, exc: OuteAIError) -> None:
        """One item failed: keep going, unless every other item would fail the same way."""
        entry = self.entries[job]
        tally = self.run.tally
        finished = tally.done + len(tally.failed) + 1
        message = exc.message + (f"; {exc.hint}" if exc.hint else "")
        self.log.append(make_record(entry, "failed", error=message))
        tally.failed.append((entry.name, message))
        self.run.say(f"[{finished}/{self.total}] failed {entry.name}: {message}")
        if isinstance(exc, AuthenticationError) or (
            isinstance(exc, APIError) and exc.status == 402
        ):
            raise exc  # every other item would fail the same way
