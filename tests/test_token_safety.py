"""The token is never shown whole, and never sent over plain http to a remote host."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from outeai_cli.errors import (
    Advice,
    AuthenticationError,
    Fix,
    InputError,
    InsecureTransportError,
    OuteAIError,
)
from outeai_cli.http.client import TTSClient
from outeai_cli.security import check_token, check_transport, mask_token, redact
from outeai_cli.server.app import ServerSettings
from outeai_cli.server.engines import ToneEngine
from outeai_cli.server.runner import LocalServer
from tests.helpers import closed_port_url, write_config

SECRET = "sk-outeai-7f3a9c1e5b2d8f4a6c0e9b3d7f1a5c8e"
MASKED = "sk-o…5c8e"
REMOTE = "203.0.113.7"  # TEST-NET-3: never routed on the internet
REMOTE_URL = f"http://{REMOTE}/api/v1"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


# -- every command, the token given three ways --------------------------------------------------

# (args, token given as --token?) — commands that take no --token get it from env or file only.
COMMANDS: list[tuple[str, ...]] = [
    ("say", "hello", "-o", "ok.flac"),
    ("say", "hello", "-o", "rejected.flac", "--base-url", "{rejecting}"),
    ("say", "hello", "-o", "refused.flac", "--base-url", "{closed}", "--retries", "0"),
    ("say", "hello", "-o", "insecure.flac", "--base-url", REMOTE_URL),
    ("say", "hello", "-s", "NO-SUCH-VOICE", "-o", "unknown.flac"),
    ("voices",),
    ("voices", "--json"),
    ("voices", "--base-url", "{rejecting}"),
    ("voices", "--remote", "--base-url", "{rejecting}"),
    ("voices", "--remote", "--base-url", "{closed}"),
    ("voices", "--base-url", REMOTE_URL),
    ("config", "show"),
    ("config", "show", "--json"),
    ("config", "get", "token"),
    ("config", "path"),
    ("config", "set", "speaker", "EN-MALE-1-NEUTRAL"),
    ("config", "unset", "speaker"),
]
TAKES_TOKEN_FLAG = {"say", "voices", "show"}


@pytest.fixture
def rejecting(make_server) -> str:
    """A server that accepts only another token: every request of ours gets a 401."""
    return make_server(tokens=frozenset({"other"})).base_url


@pytest.mark.parametrize("how", ["env", "config", "flag"])
def test_no_command_prints_the_token_whole(outeai, tmp_path: Path, rejecting, how: str) -> None:
    env = {"OUTEAI_TOKEN": SECRET if how == "env" else ""}
    if how == "config":
        write_config(tmp_path, f'token = "{SECRET}"\n')
    urls = {"{rejecting}": rejecting, "{closed}": closed_port_url()}
    outcomes = []
    for command in COMMANDS:
        args = [urls.get(a, a) for a in command]
        if how == "flag":
            if not TAKES_TOKEN_FLAG & set(command[:2]):
                continue
            args += ["--token", SECRET]
        result = outeai(*args, env=env)
        outcomes.append((command, result.returncode))
        shown = result.out + result.stderr
        assert SECRET not in shown, (how, command)
        assert SECRET[4:-4] not in shown, (how, command)  # nor a large part of it
        assert "Traceback" not in result.stderr, (how, command)
    codes = dict(outcomes)
    # The runs did reach the cases they are meant to cover:
    assert codes[COMMANDS[0]] == 0
    assert codes[COMMANDS[1]] == 3  # rejected token
    assert codes[COMMANDS[2]] == 5  # connection refused
    assert codes[COMMANDS[3]] == 2  # plain http to a remote host
    assert codes[COMMANDS[4]] == 4  # unknown speaker
    assert codes[COMMANDS[8]] == 3
    if how != "flag":
        assert codes[("config", "get", "token")] == 0


def test_rejected_token_message_is_masked_and_says_how_to_replace_it(outeai, rejecting) -> None:
    result = outeai(
        "say", "hi", "-o", "x.flac", "--base-url", rejecting, env={"OUTEAI_TOKEN": SECRET}
    )
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1] == (
        f"outeai: error: the token {MASKED} was rejected (HTTP 401: invalid token); "
        "set a valid one with 'outeai config set token' or OUTEAI_TOKEN"
    )


def test_missing_token_exits_3_with_the_commands_that_fix_it(outeai, server) -> None:
    result = outeai("say", "hi", "-o", "x.flac", env={"OUTEAI_TOKEN": ""})
    assert result.returncode == 3
    assert "run 'outeai config set token' or export OUTEAI_TOKEN=..." in result.stderr
    assert server.tts_requests() == []


def test_config_show_and_get_mask_the_token(outeai, tmp_path: Path) -> None:
    write_config(tmp_path, f'token = "{SECRET}"\n')
    env = {"OUTEAI_TOKEN": ""}
    assert outeai("config", "get", "token", env=env).out.strip() == MASKED
    shown = json.loads(outeai("config", "show", "--json", env=env).out)
    assert shown["settings"]["token"] == {"value": MASKED, "source": "config file"}


def test_reveal_prints_the_token_whole(outeai, tmp_path: Path) -> None:
    write_config(tmp_path, f'token = "{SECRET}"\n')
    env = {"OUTEAI_TOKEN": ""}
    assert outeai("config", "get", "token", "--reveal", env=env).out == f"{SECRET}\n"
    shown = json.loads(outeai("config", "show", "--json", "--reveal", env=env).out)
    assert shown["settings"]["token"]["value"] == SECRET
    assert SECRET in outeai("config", "show", "--reveal", env=env).out


def test_short_tokens_are_hidden_entirely(outeai) -> None:
    result = outeai("config", "get", "token", env={"OUTEAI_TOKEN": "short-tok"})
    assert result.out.strip() == "*********"


def test_token_is_absent_from_library_exception_text(rejecting) -> None:
    failures: list[OuteAIError] = []
    for url in (rejecting, closed_port_url()):
        with TTSClient(SECRET, base_url=url, retries=0) as client:
            with pytest.raises(OuteAIError) as info:
                client.generate("hello")
            failures.append(info.value)
            with pytest.raises(OuteAIError) as info:
                client.voices()
            failures.append(info.value)
    assert isinstance(failures[0], AuthenticationError)
    for exc in failures:
        text = str(exc) + repr(exc) + exc.hint + "".join(traceback.format_exception(exc))
        assert SECRET not in text


# -- plain http: loopback only, unless --allow-insecure-http -------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765/api/v1",
        "http://localhost:8765/api/v1",
        "http://[::1]:8765/api/v1",
        "http://127.8.9.1/api/v1",
        "https://203.0.113.7/api/v1",
    ],
)
def test_loopback_http_and_any_https_are_allowed(url: str) -> None:
    assert verdict(url) == "allowed"


def verdict(url: str, **options: bool) -> str:
    """'allowed', or what the refusal says."""
    try:
        check_transport(url, **options)
    except InsecureTransportError as exc:
        return exc.message
    return "allowed"


@pytest.mark.parametrize(
    "url", ["http://203.0.113.7/api/v1", "http://localhost.example.com/api/v1", "http://10.0.0.1"]
)
def test_remote_plain_http_is_refused_unless_allowed(url: str) -> None:
    assert verdict(url).startswith("refusing to send the token over plain http to ")
    assert verdict(url, allow_insecure_http=True) == "allowed"


def test_say_over_http_to_ipv6_loopback_works(outeai) -> None:
    with LocalServer(ServerSettings(engine=ToneEngine()), host="::1") as server:
        url = f"http://[::1]:{server.port}/api/v1"
        result = outeai("say", "hi", "-o", "x.flac", "--base-url", url)
    assert result.returncode == 0, result.stderr


def test_say_over_http_to_localhost_works(outeai, server) -> None:
    url = server.base_url.replace("127.0.0.1", "localhost")
    result = outeai("say", "hi", "-o", "x.flac", "--base-url", url)
    assert result.returncode == 0, result.stderr
    assert len(server.tts_requests()) == 1


class Listener:
    """A TCP listener recording each connection's first line, answering 401 JSON."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.sock = socket.create_server((host, port))
        self.port = self.sock.getsockname()[1]
        self.first_lines: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.first_lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                body = b'{"message": "listener"}'
                conn.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy() -> Iterator[Listener]:
    listener = Listener("127.0.0.1")
    yield listener
    listener.close()


def proxied_env(proxy: Listener) -> dict[str, str]:
    """Route every plain-http request through the loopback listener (httpx honours this)."""
    url = f"http://127.0.0.1:{proxy.port}"
    return {
        "HTTP_PROXY": url,
        "http_proxy": url,
        "NO_PROXY": "",
        "no_proxy": "",
        "OUTEAI_TOKEN": SECRET,
    }


@pytest.mark.parametrize(
    "command",
    [
        ("say", "hi", "-o", "x.flac", "--base-url", REMOTE_URL),
        ("voices", "--remote", "--base-url", REMOTE_URL),
    ],
)
def test_remote_http_is_refused_before_any_connection_even_through_a_proxy(
    outeai, tmp_path: Path, proxy: Listener, command: tuple[str, ...]
) -> None:
    result = outeai(*command, env=proxied_env(proxy))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"outeai: error: refusing to send the token over plain http to {REMOTE}; "
        "use https, or pass --allow-insecure-http if you trust this network"
    )
    assert proxy.first_lines == []
    assert not (tmp_path / "x.flac").exists()


def test_allow_insecure_http_sends_it_through_the_configured_proxy(outeai, proxy: Listener) -> None:
    result = outeai(
        "say",
        "hi",
        "-o",
        "x.flac",
        "--base-url",
        REMOTE_URL,
        "--allow-insecure-http",
        env=proxied_env(proxy),
    )
    assert result.returncode == 3  # the listener's 401
    assert proxy.first_lines == [f"POST {REMOTE_URL}/tts HTTP/1.1"]
    assert SECRET not in result.stderr


# The strongest proof: in a private network namespace the remote address is real and listening,
# so a connection attempt would be accepted and recorded.
NAMESPACE_SCRIPT = textwrap.dedent(
    """
    import json, socket, subprocess, sys, threading
    sys.path.insert(0, sys.argv[1])
    from tests.test_token_safety import Listener
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", "{remote}/32", "dev", "lo"], check=True)
    listener = Listener("{remote}", 80)
    proc = subprocess.run(
        [sys.executable, "-m", "outeai_cli", "say", "--base-url", "http://{remote}/api/v1",
         "hi", "-o", "x.flac", *sys.argv[2:]],
        capture_output=True, text=True, timeout=60,
    )
    print(json.dumps({{"code": proc.returncode, "stderr": proc.stderr,
                      "first_lines": listener.first_lines}}))
    """
).format(remote=REMOTE)


def run_in_namespace(cli_env: dict[str, str], cwd: Path, *extra: str) -> dict:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip (iproute2)")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {probe.stderr.decode().strip()}")
    env = {k: v for k, v in cli_env.items() if k.upper() not in PROXY_VARS}
    env["OUTEAI_TOKEN"] = SECRET
    root = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", NAMESPACE_SCRIPT, root, *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_remote_http_refusal_makes_no_connection_in_a_network_namespace(
    cli_env, tmp_path: Path
) -> None:
    outcome = run_in_namespace(cli_env, tmp_path)
    assert outcome["code"] == 2
    assert "refusing to send the token over plain http to 203.0.113.7" in outcome["stderr"]
    assert outcome["first_lines"] == []


def test_allow_insecure_http_does_connect_in_a_network_namespace(cli_env, tmp_path: Path) -> None:
    outcome = run_in_namespace(cli_env, tmp_path, "--allow-insecure-http")
    assert outcome["first_lines"] == ["POST /api/v1/tts HTTP/1.1"]
    assert outcome["code"] == 3
    assert SECRET not in outcome["stderr"]


# -- the token's own checks, case by case ----------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("t" * 4096, None),  # the longest a token may be
        ("t" * 4097, "is 4097 characters long (at most 4096)"),
        (" spaced ~tilde ", None),  # every printable ASCII character travels
        ("abcd\nefgh", "contains a control character (at position 5)"),
        ("abc\x7fdef", "contains a control character (at position 4)"),
        ("\x1fabc", "contains a control character (at position 1)"),
        ("abcdé", "contains a non-ASCII character (at position 5)"),
        ("ab\x80cd", "contains a non-ASCII character (at position 3)"),
    ],
)
def test_a_token_that_cannot_travel_is_refused_saying_why_and_where(
    token: str, problem: str | None
) -> None:
    if problem is None:
        assert check_token(token) == token
        return
    with pytest.raises(InputError) as caught:
        check_token(token)
    assert caught.value.message == f"the API token {problem}; nothing was sent"
    assert caught.value.hint == "copy the token again, without line breaks"
    assert caught.value.advice == (Advice(Fix.REPLACE, "token"),)


@pytest.mark.parametrize(
    ("token", "shown"),
    [(None, "(none)"), ("", "(none)"), ("short-token", "*" * 11), ("twelve-chars", "twel…hars")],
)
def test_a_token_is_shown_by_its_ends_or_not_at_all(token: str | None, shown: str) -> None:
    assert mask_token(token) == shown


@pytest.mark.parametrize(
    "form",
    [
        "tok/en+with space&\u00e9",  # plain
        "tok%2Fen%2Bwith%20space%26%C3%A9",  # URL-encoded
        "tok%2Fen%2Bwith+space%26%C3%A9",  # form-encoded
        "tok/en+with space&\\u00e9",  # in JSON
        "tok\\/en+with space&\\u00e9",  # in JSON with escaped slashes
    ],
)
def test_every_form_of_a_token_is_masked(form: str) -> None:
    token = "tok/en+with space&\u00e9"
    assert redact(f"echo: {form} (end)", token) == "echo: tok/…ce&\u00e9 (end)"


def test_a_token_under_four_characters_is_not_looked_for() -> None:
    assert redact("abc abcabc", "abc") == "abc abcabc"  # too short to find safely
    assert redact("abcd", "abcd") == "****"
    assert redact("no token", None) == "no token"


@pytest.mark.parametrize("ascii_only", [True, False])
def test_a_token_with_quotes_and_backslashes_is_masked_in_json_and_in_a_repr(
    ascii_only: bool,
) -> None:
    token = "tök\"en\\x'yz-0123"
    echoed = json.dumps({"token": token}, ensure_ascii=ascii_only)
    assert redact(echoed, token) == '{"token": "' + mask_token(token) + '"}'
    assert redact(repr(token), token) == "'" + mask_token(token) + "'"
