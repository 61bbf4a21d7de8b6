"""Settings at the edge: one table checks flags, environment and file alike; what a user hands
over (numbers, tokens, closed streams) is one clear line, never a traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from outeai_cli.errors import TransportError
from outeai_cli.http.client import TTSClient
from outeai_cli.security import is_loopback_host
from outeai_cli.settings.config import Settings
from outeai_cli.settings.table import SETTINGS
from tests.conftest import TOKEN
from tests.helpers import error_lines


def one_error(result, code: int) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert result.stderr.strip() == line, result.stderr
    return line


# -- numbers: finite and in range, wherever they come from ------------------------------------


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--timeout", "1e300"),
        ("--idle-timeout", "inf"),
        ("--connect-timeout", "nan"),
        ("--max-time", "-1"),
        ("--retries", "99"),
    ],
)
def test_absurd_numbers_on_the_command_line_are_refused_before_any_request(
    outeai, server, flag: str, value: str
) -> None:
    line = one_error(outeai("say", "hi", "-o", "x.flac", flag, value), 2)
    # Non-numbers (inf, nan) may already fail the option's own conversion; the rest the table.
    assert flag in line
    assert value in ("inf", "nan") or "given on the command line" in line
    assert server.requests() == []


def test_config_set_refuses_an_infinite_timeout(outeai, tmp_path: Path) -> None:
    line = one_error(outeai("config", "set", "timeout", "inf"), 2)
    assert line == (
        "outeai: error: invalid timeout 'inf': must be a finite number; "
        "e.g. outeai config set timeout 120"
    )
    assert not (tmp_path / "config" / "outeai" / "config.toml").exists()


def test_an_infinite_timeout_written_by_hand_is_refused_with_the_fix(
    outeai, server, tmp_path: Path
) -> None:
    path = tmp_path / "config" / "outeai" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("idle_timeout = inf\n")  # TOML has inf
    path.chmod(0o600)
    line = one_error(outeai("say", "hi", "-o", "x.flac"), 2)
    assert line == (
        "outeai: error: invalid idle_timeout inf in config file: must be a finite number; "
        "fix it with 'outeai config set idle_timeout 120'"
    )
    assert server.requests() == []


# -- every client option is a setting -----------------------------------------------------------


def test_client_options_are_settings() -> None:
    for name in ("model", "retries", "connect_timeout", "idle_timeout", "max_time"):
        assert name in SETTINGS
    assert "allow_insecure_http" in SETTINGS


def test_a_profile_can_choose_the_model(outeai, server) -> None:
    assert outeai("config", "set", "--profile", "odd", "model", "NoSuchModel").returncode == 0
    result = outeai("say", "hi", "--api", "tts-stream", "-o", "x.wav", "--profile", "odd")
    assert result.returncode == 4, result.stderr
    assert "NoSuchModel" in result.stderr
    assert outeai("say", "hi", "--api", "tts-stream", "-o", "y.wav").returncode == 0


def test_retries_from_the_config_file_apply(outeai, server) -> None:
    server.set_faults("http-503")
    assert outeai("config", "set", "retries", "0").returncode == 0
    result = outeai("say", "hi", "-o", "x.flac")
    assert result.returncode == 5
    assert len(server.tts_requests()) == 1


def test_allow_insecure_http_from_the_file_builds_a_client_without_connecting() -> None:
    file_data = {"allow_insecure_http": True, "base_url": "http://tts.example.invalid/api/v1"}
    settings = Settings(environ={"OUTEAI_TOKEN": TOKEN}, file_data=file_data)
    assert settings.get("allow_insecure_http") is True
    TTSClient.from_settings(settings).close()  # refused before any connection otherwise


def test_flag_values_are_checked_by_the_same_table_as_file_values() -> None:
    from outeai_cli.errors import ConfigError

    for source in ({"flags": {"temperature": 1.5}}, {"file_data": {"temperature": 1.5}}):
        kwargs = {"environ": {}, "file_data": {}, **source}
        with pytest.raises(ConfigError, match=r"must be a number from 0\.1 to 1\.0"):
            Settings(**kwargs).get("temperature")  # type: ignore[arg-type]


# -- voices takes the connection options --------------------------------------------------------


@pytest.mark.parametrize("api", ["tts", "audio", "tts-stream"])
def test_voices_takes_the_same_connection_options_as_say(outeai, make_server, api) -> None:
    srv = make_server(tokens=frozenset({TOKEN}))
    result = outeai(
        "voices", "--remote", "--json", "--api", api, "--base-url", srv.base_url,
        "--token", TOKEN, "--timeout", "5", "--connect-timeout", "2", "--idle-timeout", "5",
        "--max-time", "10",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"EN-FEMALE-1-NEUTRAL"' in result.out


def test_voices_with_a_wrong_token_in_the_audio_dialect_is_rejected(outeai, make_server) -> None:
    srv = make_server(tokens=frozenset({TOKEN}))
    wrong = "wrong-token-0123456789"
    result = outeai(
        "voices", "--remote", "--api", "audio", "--base-url", srv.base_url, "--token", wrong
    )
    assert result.returncode == 3, result.stderr
    assert wrong not in result.stderr


# -- the token ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("abc-token\nX-Evil: 1-0123", "contains a control character (at position 10)"),
        ("tökén-0123456789abcdef", "contains a non-ASCII character (at position 2)"),
        ("t" * 100_000, "is 100000 characters long (at most 4096)"),
    ],
    ids=["newline", "non-ascii", "huge"],
)
@pytest.mark.parametrize("api", ["tts", "audio", "tts-stream"])
def test_an_unusable_token_is_refused_before_any_request(
    outeai, server, token: str, problem: str, api: str
) -> None:
    env = {"OUTEAI_TOKEN": token}
    line = one_error(outeai("say", "hi", "--api", api, "-o", "x.flac", env=env), 2)
    assert problem in line and token[:8] not in line.replace("invalid token", "")
    assert "OUTEAI_TOKEN" in line
    assert server.requests() == []


def test_config_set_token_refuses_a_non_ascii_token(outeai, tmp_path: Path) -> None:
    line = one_error(outeai("config", "set", "token", input="tökén-0123456789abcdef\n"), 2)
    assert "non-ASCII" in line and "tökén" not in line
    assert not (tmp_path / "config" / "outeai" / "config.toml").exists()


# -- loopback means literal loopback ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "trusted"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("[::1]", True),
        ("evil.localhost", False),
        ("localhost.evil.example", False),
        ("128.0.0.1", False),
    ],
)
def test_only_literal_loopback_is_trusted(host: str, trusted: bool) -> None:
    assert is_loopback_host(host) is trusted


def test_a_localhost_subdomain_gets_no_token_over_plain_http(outeai) -> None:
    # Refused before any name is resolved, so nothing leaves this machine.
    line = one_error(
        outeai("say", "hi", "-o", "x.flac", "--base-url", "http://evil.localhost:9/api/v1"), 2
    )
    assert "refusing to send the token over plain http to evil.localhost" in line


# -- connection errors in words -----------------------------------------------------------------


def test_connection_refused_names_the_url_and_the_cause(outeai) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/v1"
    line = one_error(outeai("say", "hi", "-o", "x.flac", "--base-url", url, "--retries", "0"), 5)
    assert line == (
        f"outeai: error: cannot connect to {url}: nothing is listening on 127.0.0.1:{port}; "
        "check the base URL and that the server is running"
    )


def test_an_unknown_host_name_is_named(monkeypatch) -> None:
    # No DNS query may leave the machine: the resolver is the one part replaced.
    def no_such_name(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    url = "https://tts.example.invalid/api/v1"
    with (
        TTSClient(TOKEN, base_url=url, retries=0) as client,
        pytest.raises(TransportError) as caught,
    ):
        client.generate("hi")
    assert caught.value.message == f"cannot connect to {url}: name not found: tts.example.invalid"


def test_an_untrusted_tls_certificate_is_named(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:0", "-key", str(key), "-cert", str(cert), "-www"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = ""
        while not line.startswith("ACCEPT"):  # "ACCEPT 127.0.0.1:PORT"
            line = server.stdout.readline()
            assert line, "openssl s_server did not start"
        port = int(line.rsplit(":", 1)[1])
        url = f"https://127.0.0.1:{port}/api/v1"
        with (
            TTSClient(TOKEN, base_url=url, retries=0) as client,
            pytest.raises(TransportError) as caught,
        ):
            client.generate("hi")
        assert caught.value.message.startswith(
            f"cannot connect to {url}: TLS certificate not trusted"
        )
    finally:
        server.kill()
        server.wait()


# -- closed standard streams -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "code"),
    [
        ("outeai config set token <&-", 2),
        ("outeai say -o x.flac <&-", 2),
        ("outeai say hi >&-", 2),
        ("outeai batch - -o out <&-", 2),
    ],
)
def test_a_closed_standard_stream_is_one_line(
    cli_env, tmp_path: Path, server, shell: str, code: int
) -> None:
    command = shell.replace("outeai", f"{sys.executable} -m outeai_cli", 1)
    proc = subprocess.run(
        ["bash", "-c", command], env=cli_env, cwd=tmp_path, capture_output=True, timeout=60
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "AttributeError" not in stderr
    assert len(error_lines(stderr)) == 1, stderr
    assert server.requests() == []
    assert not (tmp_path / "x.flac").exists()


# -- the last resort ----------------------------------------------------------------------------


def test_an_unexpected_exception_is_one_line_and_a_traceback_only_on_request(
    cli_env, tmp_path: Path
) -> None:
    # A real bug cannot be summoned on purpose; a sitecustomize breaks one library function.
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import outeai_cli.settings.file as c\n"
        "def broken(*a, **k):\n"
        "    raise ZeroDivisionError('planted bug')\n"
        "c.config_path = broken\n"
    )
    env = {**cli_env, "PYTHONPATH": os.pathsep.join([str(hook), *sys.path])}
    args = [sys.executable, "-m", "outeai_cli", "config", "show"]
    quiet = subprocess.run(args, env=env, capture_output=True, text=True)
    assert quiet.returncode == 1
    assert quiet.stderr.strip() == (
        "outeai: error: unexpected ZeroDivisionError: planted bug; this is a bug in outeai; "
        "run it again with OUTEAI_DEBUG=1 for the traceback"
    )
    loud = subprocess.run(
        args, env={**env, "OUTEAI_DEBUG": "1"}, capture_output=True, text=True, timeout=60
    )
    assert loud.returncode == 1
    assert "Traceback (most recent call last)" in loud.stderr
    assert loud.stderr.strip().endswith("run it again with OUTEAI_DEBUG=1 for the traceback")


# -- concurrent edits of one config file ------------------------------------------------------------


def test_concurrent_config_edits_lose_no_update(cli_env, tmp_path: Path) -> None:
    base = [sys.executable, "-m", "outeai_cli"]
    commands = [
        [*base, "config", "set", "--profile", f"p{i}", "speaker", f"VOICE-{i}"] for i in range(4)
    ] + [[*base, "voices", "add", f"clone-{i}"] for i in range(4)]
    procs = [
        subprocess.Popen(c, env=cli_env, cwd=tmp_path, stderr=subprocess.PIPE) for c in commands
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    data = tomllib.loads((tmp_path / "config" / "outeai" / "config.toml").read_text())
    assert set(data["profiles"]) == {f"p{i}" for i in range(4)}
    assert set(data["voices"]) == {f"clone-{i}" for i in range(4)}


# -- a full disk ---------------------------------------------------------------------------------


def test_a_full_disk_names_the_output_and_the_fix(cli_env, tmp_path: Path, server) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a private, tiny tmpfs")
    full = tmp_path / "full"
    full.mkdir()
    text = "A sentence long enough that its audio does not fit in sixty four kilobytes."
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {full} && "
        f"exec {sys.executable} -m outeai_cli say '{text}' -o {full}/x.wav"
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], env=cli_env, cwd=tmp_path, capture_output=True
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 1, stderr
    assert stderr.strip() == (
        f"outeai: error: cannot write {full}/x.wav: no space left on the device; nothing was "
        "saved; free some space, or give another -o"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1]:x/api/v1", "is not a URL"),  # was an "unexpected InvalidURL" bug line
        ("http://[::1/api/v1", "is not a URL"),  # and an "unexpected ValueError"
        ("http://127.0.0.1:99999/api/v1", "port out of range"),  # was retried as "port 0"
        ("http:///api/v1", "has no host name"),
        ("http://user:hunter2pass@127.0.0.1:9/api/v1", "must not hold a user name or password"),
        ("http://127.0.0.1:9/api/v1#frag", "without a ?query or #fragment"),
    ],
)
def test_a_base_url_that_is_not_an_api_root_is_refused_before_any_request(
    outeai, url: str, problem: str
) -> None:
    for args in (["--base-url", url], []):
        result = outeai("say", "hi", "-o", "x.flac", *args, env={"OUTEAI_BASE_URL": url})
        assert result.returncode == 2, result.stderr
        assert problem in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert "hunter2pass" not in result.stderr  # a URL's password is never shown
    result = outeai("config", "set", "base_url", url)
    assert result.returncode == 2, result.stderr
    assert "hunter2pass" not in result.stderr
