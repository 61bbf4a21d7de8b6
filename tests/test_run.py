"""The run (synthesis/run.py) as a library caller drives it: jobs submitted and pieces added
while it goes, against the local server. A job whose pieces arrive over time is what live
input builds on: each piece is requested as it arrives and handed to listeners in order."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from outeai_cli.errors import InputError, InterruptedByUser
from outeai_cli.http.client import TTSClient
from outeai_cli.synthesis.assembly import ReadyPiece
from outeai_cli.synthesis.job import JobSpec
from outeai_cli.synthesis.progress import RunProgress
from outeai_cli.synthesis.run import Run
from outeai_cli.synthesis.types import SynthesisOptions, SynthesisRequest
from outeai_cli.voices.speakers import parse_speaker
from tests.conftest import TOKEN
from tests.helpers import reference_audio

VOICE = parse_speaker("EN-FEMALE-1-NEUTRAL")
SENTENCES = ["First sentence here.", "Then a second one.", "And the third.", "Last of all."]


def samples(data: bytes) -> np.ndarray:
    audio, _ = sf.read(io.BytesIO(data), dtype="int16")
    return audio


def live_spec(target: Path) -> JobSpec:
    return JobSpec(
        SynthesisRequest("", VOICE, 0.4),
        target,
        "flac",
        SynthesisOptions(jobs=2),
        pieces_to_come=True,
    )


def test_pieces_added_while_the_run_goes_are_spoken_in_order_as_they_arrive(
    server, tmp_path: Path
) -> None:
    target = tmp_path / "live.flac"
    ready: list[ReadyPiece] = []
    heard = threading.Event()

    def listener(piece: ReadyPiece) -> None:
        assert piece.parts[0].path is not None and piece.parts[0].path.exists()  # still there
        ready.append(piece)
        heard.set()

    with TTSClient(TOKEN, base_url=server.base_url) as client, Run(client, workers=2) as run:
        job = run.submit(live_spec(target), listeners=[listener])

        def feed() -> None:
            job.add_piece(SENTENCES[0])
            assert heard.wait(20)  # the first piece is out before the rest has even arrived
            for sentence in SENTENCES[1:]:
                job.add_piece(sentence)
            job.close()

        feeder = threading.Thread(target=feed)
        feeder.start()
        run.drive()
        feeder.join()
    assert job.result is not None and job.result.pieces == len(SENTENCES)
    assert [p.number for p in ready] == [1, 2, 3, 4]
    assert [p.text for p in ready] == SENTENCES
    assert [p.start for p in ready[1:]] == [p.end for p in ready[:-1]]  # back to back
    # Each requested once (two at a time: the server may see them in either order).
    assert sorted(r["text"] for r in server.tts_requests()) == sorted(SENTENCES)
    expected = np.concatenate(
        [samples(reference_audio(server.base_url, s, TOKEN)) for s in SENTENCES]
    )
    assert np.array_equal(samples(target.read_bytes()), expected)


def test_a_job_submitted_while_the_run_goes_joins_the_same_pool(server, tmp_path: Path) -> None:
    progress: list[RunProgress] = []
    with (
        TTSClient(TOKEN, base_url=server.base_url) as client,
        Run(client, workers=2, unit="items", on_progress=progress.append) as run,
    ):
        options = SynthesisOptions(jobs=2)

        def then_another(result: object) -> None:
            run.submit(
                JobSpec(
                    SynthesisRequest("Second.", VOICE, 0.4),
                    tmp_path / "b.flac",
                    "flac",
                    options,
                )
            )

        first = JobSpec(
            SynthesisRequest("First.", VOICE, 0.4), tmp_path / "a.flac", "flac", options
        )
        run.submit(first, on_result=then_another)
        run.drive()
    assert sorted(p.name for p in tmp_path.glob("*.flac")) == ["a.flac", "b.flac"]
    assert [r["text"] for r in server.tts_requests()] == ["First.", "Second."]
    assert any(p.in_flight for p in progress)


def test_a_live_job_closed_without_a_piece_fails_and_leaves_nothing(server, tmp_path: Path) -> None:
    with TTSClient(TOKEN, base_url=server.base_url) as client, Run(client, workers=1) as run:
        job = run.submit(live_spec(tmp_path / "none.flac"))
        job.close()
        with pytest.raises(InputError, match="the text is empty"):
            run.drive()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="closed"):
        job.add_piece("Too late.")


def test_a_cancel_stops_a_live_job_that_is_never_closed_and_leaves_nothing(
    server, tmp_path: Path
) -> None:
    cancel = threading.Event()
    with (
        TTSClient(TOKEN, base_url=server.base_url) as client,
        Run(client, workers=1, cancel=cancel) as run,
    ):
        job = run.submit(live_spec(tmp_path / "x.flac"), listeners=[lambda _: cancel.set()])
        job.add_piece(SENTENCES[0])  # never closed: only the cancel ends the run
        with pytest.raises(InterruptedByUser) as stopped:
            run.drive()
    assert "1 of 1 pieces were finished" in " ".join(getattr(stopped.value, "__notes__", []))
    assert job.result is None
    assert list(tmp_path.iterdir()) == []
