"""A SIGTERM whose exception Python swallows (it landed in a finalizer: "Exception ignored")
still stops the run: the handler notes the stop, and the run loop and every commit check it."""

from __future__ import annotations

import gc
import signal
from pathlib import Path

import pytest

from outeai_cli.cli.app import _on_stop_signal
from outeai_cli.cli.errors import Terminated
from outeai_cli.http.client import TTSClient
from outeai_cli.synthesis import scheduler
from outeai_cli.synthesis.synthesize import SynthesisOptions, SynthesisRequest, synthesize
from outeai_cli.voices.speakers import parse_speaker
from tests.conftest import TOKEN

# The swallowed exception is the point: Python reports it as unraisable, as it does in a run.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class SignalInFinalizer:
    """An object whose finalizer takes the SIGTERM, as one collected at the wrong moment does."""

    def __del__(self) -> None:
        _on_stop_signal(signal.SIGTERM, None)


@pytest.fixture
def lost_stop():
    scheduler._pending_stop.clear()
    SignalInFinalizer()  # its finalizer runs now: the raise inside it is printed and swallowed
    gc.collect()
    yield
    scheduler._pending_stop.clear()


@pytest.mark.parametrize("text", ["Hello there.", " ".join(["A short sentence."] * 12)])
def test_a_swallowed_sigterm_still_stops_the_run_before_its_commit(
    lost_stop, server, tmp_path: Path, text: str
) -> None:
    target = tmp_path / "out.flac"
    request = SynthesisRequest(text, parse_speaker("EN-FEMALE-1-NEUTRAL"), 0.4)
    options = SynthesisOptions(max_chars=60, spool_dir=tmp_path)
    with (
        TTSClient(TOKEN, base_url=server.base_url, retries=0) as client,
        pytest.raises(Terminated) as caught,
    ):
        synthesize(client, request, target, "flac", options)
    assert caught.value.signum == signal.SIGTERM  # the noted stop, raised again at a check
    assert not target.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []
