"""Committing outputs: never replacing what appeared meanwhile, never renaming over a pipe or a
device, and conversion that a signal interrupts (outeai_cli.output.commit, outeai_cli.audio.formats)."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from outeai_cli.errors import Advice, Fix, InputError
from outeai_cli.output.commit import AtomicFile, OutputExistsError, atomic_output, next_free_name
from tests.helpers import (
    each_stop_signal,
    files_in,
    pipe_is_full,
    start_say,
    wait_for_request,
    wait_until,
)

# -- the library -----------------------------------------------------------------------------------


def test_a_name_that_appears_while_writing_is_never_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.flac"
    with AtomicFile(target) as pending:
        pending.file.write(b"new audio")
        target.write_bytes(b"another run's audio")  # committed by someone else meanwhile
        with pytest.raises(OutputExistsError, match="already exists while"):
            pending.commit()
    assert target.read_bytes() == b"another run's audio"
    assert files_in(tmp_path) == {"out.flac"}


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("force", [False, True], ids=["new-name", "replacing"])
def test_a_committed_file_has_the_mode_a_new_file_would_have(tmp_path: Path, force: bool) -> None:
    """0666 less the umask, as any program's new file (the temp file was made 0600)."""
    target = tmp_path / "out.flac"
    if force:
        target.write_bytes(b"old")
        target.chmod(0o600)
    with AtomicFile(target, force=force) as pending:
        assert pending.committed is False
        pending.file.write(b"new audio")
        assert pending.commit() == target
        assert pending.committed is True
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()
    assert target.read_bytes() == b"new audio"


def test_the_file_being_written_has_no_name_until_its_commit(tmp_path: Path) -> None:
    """O_TMPFILE: nothing to leave behind if the process dies, nothing another program lists."""
    with AtomicFile(tmp_path / "out.flac") as pending:
        pending.file.write(b"new audio")
        assert files_in(tmp_path) == set()
        pending.commit()
    assert files_in(tmp_path) == {"out.flac"}


def test_without_anonymous_files_a_hidden_temp_name_is_used_and_never_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the system has no O_TMPFILE (macOS), a hidden .NAME.*.part beside the output
    (stood in for here by taking the flag away)."""
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    with AtomicFile(tmp_path / "out.flac") as pending:
        pending.file.write(b"new audio")
        (temp,) = files_in(tmp_path)
        assert temp.startswith(".out.flac.") and temp.endswith(".part")
        pending.commit()
    assert files_in(tmp_path) == {"out.flac"}
    assert (tmp_path / "out.flac").read_bytes() == b"new audio"
    with AtomicFile(tmp_path / "other.flac") as abandoned:
        abandoned.file.write(b"half")
    assert files_in(tmp_path) == {"out.flac"}


def test_undo_takes_back_a_new_name_only_while_it_is_ours(tmp_path: Path) -> None:
    target = tmp_path / "cues.srt"
    with AtomicFile(target) as pending:
        pending.file.write(b"cues")
        pending.commit()
    pending.undo()
    assert not target.exists()
    with AtomicFile(target) as pending:
        pending.file.write(b"cues")
        pending.commit()
    target.rename(tmp_path / "moved.srt")  # (kept, so that its inode is not reused)
    target.write_bytes(b"someone else's")  # the name is no longer the file we linked
    pending.undo()
    assert target.read_bytes() == b"someone else's"
    with AtomicFile(target, force=True) as replacing:
        replacing.file.write(b"new cues")
        replacing.commit()
    replacing.undo()  # a replaced file cannot be taken back: it stays
    assert target.read_bytes() == b"new cues"


def test_a_dangling_link_at_the_name_is_an_existing_output(tmp_path: Path) -> None:
    (tmp_path / "out.flac").symlink_to(tmp_path / "nowhere.flac")
    with pytest.raises(OutputExistsError, match=r"out\.flac already exists"):
        AtomicFile(tmp_path / "out.flac")
    assert not (tmp_path / "nowhere.flac").exists()


def test_a_missing_or_unwritable_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"the directory \S*/absent does not exist") as caught:
        AtomicFile(tmp_path / "absent" / "out.flac")
    assert caught.value.hint == "create it first"
    # /proc takes no new file from anyone, root included (a read-only directory would not stop root).
    with pytest.raises(InputError, match=r"cannot write to the directory /proc \(") as caught:
        AtomicFile(Path("/proc/outeai-test.flac"))
    assert caught.value.hint == "choose another output path"


def test_a_chosen_name_that_appears_while_writing_takes_the_next_free_one(tmp_path: Path) -> None:
    target = tmp_path / "hello-world.flac"
    with AtomicFile(target, fresh_name=True) as pending:
        pending.file.write(b"new audio")
        target.write_bytes(b"another run's audio")
        (tmp_path / "hello-world-2.flac").write_bytes(b"a third")
        committed = pending.commit()
    assert committed == tmp_path / "hello-world-3.flac" == pending.path
    assert committed.read_bytes() == b"new audio"
    assert target.read_bytes() == b"another run's audio"


def test_next_free_name_continues_a_number(tmp_path: Path) -> None:
    (tmp_path / "a-2.flac").write_bytes(b"")
    (tmp_path / "a-3.flac").write_bytes(b"")
    assert next_free_name(tmp_path / "a-2.flac") == tmp_path / "a-4.flac"
    assert next_free_name(tmp_path / "b.flac") == tmp_path / "b-2.flac"


def test_an_existing_file_is_refused_up_front_without_force(tmp_path: Path) -> None:
    (tmp_path / "out.flac").write_bytes(b"old")
    with pytest.raises(OutputExistsError, match=r"out\.flac already exists$") as caught:
        AtomicFile(tmp_path / "out.flac")
    assert caught.value.path == tmp_path / "out.flac"
    assert caught.value.advice == (Advice(Fix.ENABLE, "force", purpose="to overwrite it"),)
    with atomic_output(tmp_path / "out.flac", force=True) as handle:
        handle.write(b"new")
    assert (tmp_path / "out.flac").read_bytes() == b"new"
    assert files_in(tmp_path) == {"out.flac"}


def test_a_symlink_to_a_file_is_followed_when_forced(tmp_path: Path) -> None:
    (tmp_path / "real.flac").write_bytes(b"old")
    (tmp_path / "link.flac").symlink_to("real.flac")
    with atomic_output(tmp_path / "link.flac", force=True) as handle:
        handle.write(b"new")
    assert (tmp_path / "link.flac").is_symlink()
    assert (tmp_path / "real.flac").read_bytes() == b"new"


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.flac"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    with atomic_output(fifo) as handle:  # nothing in a pipe to lose: no force needed
        handle.write(b"audio" * 1000)
    reader.join(timeout=10)
    assert received == [b"audio" * 1000]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_directory_and_a_socket_are_refused(tmp_path: Path) -> None:
    import socket

    with pytest.raises(InputError, match="is a directory"):
        AtomicFile(tmp_path, force=True)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(os.fspath(tmp_path / "sock.flac"))
        with pytest.raises(InputError, match="not a regular file"):
            AtomicFile(tmp_path / "sock.flac", force=True)


# -- the CLI ---------------------------------------------------------------------------------------


def test_say_never_replaces_an_output_another_run_committed_meanwhile(
    cli_env, make_server, tmp_path: Path
) -> None:
    slow = make_server(latency=1.5)
    before = files_in(tmp_path)
    env = {**cli_env, "OUTEAI_BASE_URL": slow.base_url}
    proc = start_say(["Hello.", "-o", "out.flac"], env, tmp_path)
    wait_for_request(slow, proc)
    (tmp_path / "out.flac").write_bytes(b"the other run's audio")
    assert proc.wait(timeout=30) == 2
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "out.flac already exists" in stderr and "Traceback" not in stderr
    assert (tmp_path / "out.flac").read_bytes() == b"the other run's audio"
    assert files_in(tmp_path) == before | {"out.flac"}


def test_force_writes_into_a_character_device_without_replacing_it(outeai, tmp_path: Path) -> None:
    # Through a link to /dev/null: code that renamed over the name would replace the link,
    # not /dev/null itself (a test must never risk the machine's /dev/null).
    (tmp_path / "null.flac").symlink_to("/dev/null")
    result = outeai("say", "Hello.", "-o", "null.flac", "--force")
    assert result.returncode == 0, result.stderr
    assert os.readlink(tmp_path / "null.flac") == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_force_writes_into_a_fifo(outeai, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.flac"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = outeai("say", "Hello.", "-o", "pipe.flac", "--force")
    reader.join(timeout=10)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received and received[0][:4] == b"fLaC"


def test_force_through_a_dev_stdout_link_writes_to_stdout(run_cli, tmp_path: Path) -> None:
    (tmp_path / "out.flac").symlink_to("/dev/stdout")
    result = run_cli("say", "Hello.", "-o", "out.flac", "--force")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.flac").is_symlink()
    assert result.stdout[:4] == b"fLaC"


def _encoding_started(pid: int, magic: tuple[bytes, ...]) -> bool:
    """Whether the process holds a file (wherever: its output or a spool) that already starts
    like the encoded output."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            with open(f"/proc/{pid}/fd/{fd}", "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    continue
                head = handle.read(4)
        except OSError:
            continue
        if head.startswith(magic):
            return True
    return False


@each_stop_signal
def test_a_signal_mid_conversion_stops_it_and_commits_nothing(
    cli_env, server, tmp_path: Path, sig: int, code: int, words: str
) -> None:
    # 5,000 characters in one request: five minutes of audio, seconds of MP3 encoding.
    text = ("The quick brown fox jumps over the lazy dog. " * 112)[:5000]
    before = files_in(tmp_path)
    proc = start_say([text, "-o", "big.mp3", "--max-chars", "5000"], cli_env, tmp_path)
    deadline = time.monotonic() + 60
    while not _encoding_started(proc.pid, (b"ID3", b"\xff\xfb", b"\xff\xf3")):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "never saw the conversion start"
        time.sleep(0.01)
    proc.send_signal(sig)
    assert proc.wait(timeout=20) == code
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert f"outeai: {words}" in stderr
    assert "Saved" not in stderr and "cffi" not in stderr and "Traceback" not in stderr
    assert files_in(tmp_path) == before


def test_a_flush_started_early_still_commits_exactly_what_was_written(tmp_path: Path) -> None:
    target = tmp_path / "out.flac"
    with AtomicFile(target) as pending:
        pending.file.write(b"a" * 100_000)
        pending.start_flush()  # in the background, while the caller checks the file
        pending.file.write(b"b")  # written after the flush began: the commit's fsync covers it
        pending.commit()
    assert target.read_bytes() == b"a" * 100_000 + b"b"
    assert files_in(tmp_path) == {"out.flac"}


def test_a_flush_started_before_a_discard_leaves_nothing(tmp_path: Path) -> None:
    with AtomicFile(tmp_path / "out.flac") as pending:
        pending.file.write(b"audio that fails its check")
        pending.start_flush()
    assert files_in(tmp_path) == set()


# -- copying a spool out to stdout -----------------------------------------------------------------


def _spool(tmp_path: Path, data: bytes, start: int = 0):  # type: ignore[no-untyped-def]
    spool = open(tmp_path / "spool", "w+b")  # noqa: SIM115 - closed by the caller
    spool.write(data)
    spool.seek(start)
    return spool


@pytest.mark.parametrize("start", [0, 1000])
def test_copy_out_sends_the_rest_of_a_spool_to_a_file(tmp_path: Path, start: int) -> None:
    from outeai_cli.output.destination import copy_out

    data = os.urandom(3 * 2**20 + 7)
    with _spool(tmp_path, data, start) as spool, open(tmp_path / "out", "wb") as out:
        copy_out(spool, out)
        assert spool.tell() == len(data)
    assert (tmp_path / "out").read_bytes() == data[start:]


def test_copy_out_sends_a_spool_through_a_pipe(tmp_path: Path) -> None:
    from outeai_cli.output.destination import copy_out

    data = os.urandom(2**20 + 3)
    read_fd, write_fd = os.pipe()
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(_read_all(read_fd)))
    reader.start()
    with _spool(tmp_path, data) as spool, os.fdopen(write_fd, "wb") as out:
        copy_out(spool, out)
    reader.join(10)
    os.close(read_fd)
    assert bytes(received) == data


def test_copy_out_to_a_pipe_whose_reader_has_gone_is_a_broken_pipe(tmp_path: Path) -> None:
    from outeai_cli.output.destination import copy_out

    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    with (
        _spool(tmp_path, b"x" * 2**20) as spool,
        os.fdopen(write_fd, "wb") as out,
        pytest.raises(BrokenPipeError, match="Broken pipe"),
    ):
        copy_out(spool, out)


def test_copy_out_to_an_object_without_a_descriptor(tmp_path: Path) -> None:
    import io

    from outeai_cli.output.destination import copy_out

    out = io.BytesIO()
    with _spool(tmp_path, b"audio" * 1000) as spool:
        copy_out(spool, out)
    assert out.getvalue() == b"audio" * 1000


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _slow_reader(read_fd: int, write_fd: int, received: bytearray) -> threading.Thread:
    """Reads a pipe only once it is full (so the writer finds it full), then to its end."""

    def run() -> None:
        wait_until(lambda: pipe_is_full(write_fd), "the pipe is full")
        received.extend(_read_all(read_fd))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("spooled", [True, False], ids=["sendfile", "write"])
def test_copy_out_waits_on_a_full_non_blocking_pipe(tmp_path: Path, spooled: bool) -> None:
    """A parent may hand us a non-blocking stdout: a full pipe says EAGAIN, which is a wait,
    not an error (a source without a descriptor takes the write loop instead of sendfile)."""
    import io

    from outeai_cli.output.destination import copy_out

    data = os.urandom(2**20 + 3)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    received = bytearray()
    reader = _slow_reader(read_fd, write_fd, received)
    with (
        _spool(tmp_path, data) if spooled else io.BytesIO(data) as spool,
        os.fdopen(write_fd, "wb") as out,
    ):
        copy_out(spool, out)
    reader.join(10)
    os.close(read_fd)
    assert bytes(received) == data


def test_say_to_a_full_non_blocking_stdout_waits_and_writes_it_all(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    import subprocess
    import sys

    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    received = bytearray()
    reader = _slow_reader(read_fd, write_fd, received)
    text = "A sentence long enough to give more audio than a pipe holds at once. " * 3
    proc = subprocess.run(
        [sys.executable, "-m", "outeai_cli", "say", text, "-o", "-", "-q"],
        stdout=write_fd,
        stderr=subprocess.PIPE,
        env=cli_env,
        timeout=60,
    )
    os.close(write_fd)
    reader.join(10)
    os.close(read_fd)
    assert proc.returncode == 0, proc.stderr
    assert len(received) > 2**16 and received.startswith(b"fLaC")
    from outeai_cli.audio.verify import check_audio

    (tmp_path / "got.flac").write_bytes(received)
    assert check_audio(tmp_path / "got.flac").frames > 0
