"""The audio of one request, finished where it was written: proven, converted if need be.

A text sent whole streams straight into its destination; `TTSOutput.save` writes the audio it
holds into one. Either way the audio as received is proven to decode completely before it is
converted (converting audio cut short would make a whole, shorter output) and committed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO

from outeai_cli.audio.verify import AudioCheck, check_audio
from outeai_cli.output.destination import Destination

_COPY_BLOCK = 1 << 20


def finish_received(
    destination: Destination, received: str, fmt: str, spool_dir: Path | None = None
) -> AudioCheck | None:
    """The audio of one request, written into `destination` as received: proven to decode
    completely, then converted to `fmt` if it came as another format (and proven again).
    Returns the check of the audio as received (its length and whether it is silent: the audio
    decides), or None for audio that went out live: it was never held, so there is nothing to
    check it before."""
    if destination.live:
        return None
    if received == fmt:
        destination.start_flush()
    check = check_audio(destination.handle, expected=received, what="the received audio")
    if received != fmt:
        _convert_in_place(destination.handle, fmt, spool_dir)
        check_audio(destination.handle, expected=fmt, what="the converted audio")
    return check


def _convert_in_place(handle: IO[bytes], fmt: str, directory: Path | None) -> None:
    from outeai_cli.audio.formats import convert
    from outeai_cli.output.commit import spool_file

    with spool_file(directory) as converted:
        convert(handle, converted, fmt)
        handle.seek(0)
        handle.truncate()
        converted.seek(0)
        shutil.copyfileobj(converted, handle, _COPY_BLOCK)
