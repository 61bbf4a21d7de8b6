"""Attacks on the offline engine's private runtime directory."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.test_offline import Offline, offline  # noqa: F401 (the fixture)


def test_links_planted_while_the_runtime_directory_was_open_are_not_followed(
    offline: Offline,  # noqa: F811
) -> None:
    # A runtime directory of ours found open to others was closed (chmod 0700) and then used
    # as it was: a link planted meanwhile at the engine's log or lifetime lock made the engine
    # truncate the file it points to and write its process id into another.
    install = subprocess.run(
        [
            sys.executable,
            "-c",
            "from outeai_cli.offline.places import installation as i; print(i())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    offline.directory.mkdir(mode=0o700)
    os.chmod(offline.directory, 0o777)
    victims = {}
    for kind in ("log", "lock", "users", "start", "json"):
        victim = offline.cwd / f"precious.{kind}"
        victim.write_text(f"the user's own {kind}\n")
        (offline.directory / f"tone-{install}.{kind}").symlink_to(victim)
        victims[victim] = victim.read_text()
    offline.say()
    assert offline.directory.stat().st_mode & 0o777 == 0o700
    offline.stop_all()
    for victim, text in victims.items():
        assert victim.read_text() == text, f"{victim.name} was written through a planted link"
    assert not any(p.is_symlink() for p in offline.directory.iterdir())


def test_an_engine_stuck_shutting_down_is_reported_within_the_time_limit(
    offline: Offline,  # noqa: F811
) -> None:
    # A client waits for an engine that is shutting down (it holds the users' lock
    # exclusively meanwhile). An engine stuck there (stopped, swapped out) held every offline
    # call for ever, silently, whatever --max-time said.
    import fcntl
    import time

    from outeai_cli.offline.places import installation

    offline.directory.mkdir(mode=0o700)
    users = os.open(offline.directory / f"tone-{installation()}.users", os.O_RDWR | os.O_CREAT)
    fcntl.flock(users, fcntl.LOCK_EX)  # as an engine in its shutdown holds it
    try:
        started = time.monotonic()
        result = offline.run("say", "--offline", "Hello.", "-o", "x.flac", "--max-time", "2")
        took = time.monotonic() - started
    finally:
        os.close(users)
    assert result.returncode == 5, result.stderr
    assert result.stderr.strip().splitlines() == [
        "outeai: error: the offline engine has been shutting down for over 2 s; "
        "'outeai engine stop' stops it"
    ]
    assert took < 10
    assert not (offline.cwd / "x.flac").exists()


def test_an_engine_whose_socket_was_removed_gives_way_to_a_new_one(
    offline: Offline,  # noqa: F811
) -> None:
    # A cleaner of /tmp (or a hand) removed the socket of a warm engine: every later offline
    # call waited for it and failed ('did not start within N s'), and their waiting kept its
    # idle clock from running, so it never left (until 'outeai engine stop').
    offline.say()
    old = offline.engine_pid()
    next(offline.directory.glob("*.sock")).unlink()
    offline.say("Hello again.", "again.flac", "--timeout", "20")
    offline.wait_gone(old, within=5)
    assert offline.engine_pid() != old
