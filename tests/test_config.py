"""`outeai config` and settings resolution, over temporary config dirs."""

from __future__ import annotations

import itertools
import json
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from outeai_cli.errors import ConfigError, InputError
from outeai_cli.settings import config
from outeai_cli.settings import file as config_files
from outeai_cli.settings import table as settings_table
from outeai_cli.settings.config import Settings
from outeai_cli.settings.table import SETTINGS
from tests.conftest import TOKEN
from tests.helpers import config_file, parse_columns, run_in_pty, sha256_of, write_config

LONG_TOKEN = "cfg-token-Zq8Xw3Lk5Vb7Nm1Pr4Ts6Uy9"
NO_ENV = {"OUTEAI_TOKEN": "", "OUTEAI_BASE_URL": ""}


# -- precedence, on the library's Settings ---------------------------------------------------

FLAG_URL = "https://flag.example/api/v1"
ENV_URL = "https://env.example/api/v1"
PROFILE_URL = "https://profile.example/api/v1"
FILE_URL = "https://file.example/api/v1"


@pytest.mark.parametrize(
    ("flag", "env", "profile", "file"), list(itertools.product([True, False], repeat=4))
)
def test_precedence_is_flag_env_profile_file_default(
    flag: bool, env: bool, profile: bool, file: bool
) -> None:
    file_data: dict = {"profiles": {"work": {}}}
    if file:
        file_data["base_url"] = FILE_URL
    if profile:
        file_data["profiles"]["work"]["base_url"] = PROFILE_URL
    settings = Settings(
        {"base_url": FLAG_URL if flag else None},
        profile="work",
        environ={"OUTEAI_BASE_URL": ENV_URL} if env else {},
        file_data=file_data,
    )
    expected = (
        (FLAG_URL, "flag")
        if flag
        else (ENV_URL, "environment (OUTEAI_BASE_URL)")
        if env
        else (PROFILE_URL, "profile work")
        if profile
        else (FILE_URL, "config file")
        if file
        else ("https://outeai.com/api/v1", "default")
    )
    resolved = settings.resolve("base_url")
    assert (resolved.value, resolved.source) == expected


def test_outeai_token_wins_over_the_sdk_variable_outeai_api_token() -> None:
    both = Settings(environ={"OUTEAI_TOKEN": "a" * 20, "OUTEAI_API_TOKEN": "b" * 20}, file_data={})
    assert both.resolve("token").value == "a" * 20
    sdk_only = Settings(environ={"OUTEAI_API_TOKEN": "b" * 20}, file_data={})
    assert sdk_only.resolve("token").source == "environment (OUTEAI_API_TOKEN)"


def test_empty_environment_variable_is_ignored() -> None:
    settings = Settings(environ={"OUTEAI_TOKEN": ""}, file_data={"token": "from-file-123456"})
    assert settings.resolve("token").source == "config file"


def test_profile_flag_wins_over_outeai_profile_env() -> None:
    data = {"profiles": {"a": {"speaker": "A-VOICE"}, "b": {"speaker": "B-VOICE"}}}
    assert Settings(environ={"OUTEAI_PROFILE": "a"}, file_data=data).get("speaker") == "A-VOICE"
    by_flag = Settings(profile="b", environ={"OUTEAI_PROFILE": "a"}, file_data=data)
    assert by_flag.get("speaker") == "B-VOICE"


def test_unknown_profile_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'nope' \(profiles: local, work\)"):
        Settings(profile="nope", environ={}, file_data={"profiles": {"work": {}, "local": {}}})


def test_invalid_value_in_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"invalid base_url 'ftp://x' in \$OUTEAI_BASE_URL"):
        Settings(environ={"OUTEAI_BASE_URL": "ftp://x"}, file_data={}).get("base_url")


def test_outeai_config_overrides_the_xdg_location(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("OUTEAI_CONFIG", raising=False)
    assert config_files.config_path() == tmp_path / "xdg" / "outeai" / "config.toml"
    monkeypatch.setenv("OUTEAI_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert config_files.config_path() == tmp_path / "elsewhere.toml"


# -- validation, by the SETTINGS table --------------------------------------------------------

VALID = {
    "token": (" abc-token ", "abc-token"),
    "base_url": ("http://127.0.0.1:9/api/v1/", "http://127.0.0.1:9/api/v1"),
    "api": ("TTS_Stream", "tts-stream"),
    "speaker": ("EN-MALE-1-NEUTRAL", "EN-MALE-1-NEUTRAL"),
    "temperature": ("0.7", 0.7),
    "format": ("WAV", "wav"),
    "timeout": ("120", 120.0),
    "max_chars": (" 500 ", 500),
    "jobs": ("8", 8),
    "model": ("OuteTTS-1-Pro", "OuteTTS-1-Pro"),
    "connect_timeout": ("2.5", 2.5),
    "idle_timeout": ("30", 30.0),
    "max_time": ("3600", 3600.0),
    "retries": ("0", 0),
    "allow_insecure_http": ("Yes", True),
    "offline": ("on", True),
    "engine": (" Tone ", "tone"),
    "keep_alive": ("0", 0.0),
    "input_pause": ("1.5", 1.5),
    "markdown": ("yes", True),
    "player": (" /opt/bin/mpv ", "/opt/bin/mpv"),
}
INVALID = {
    "token": ("   ", "must not be empty"),
    "base_url": ("ftp://x", "must start with http:// or https://"),
    "api": ("v3", "must be one of tts, audio, tts-stream, auto"),
    "speaker": ("", "must not be empty"),
    "temperature": ("1.5", "must be a number from 0.1 to 1.0"),
    "format": ("aiff", "must be one of flac, wav, ogg, mp3"),
    "timeout": ("soon", "must be a number"),
    "max_chars": ("2.5", "must be a whole number"),
    "jobs": ("0", "must be from 1 to 64"),
    "model": (" ", "must not be empty"),
    "connect_timeout": ("inf", "must be a finite number"),
    "idle_timeout": ("nan", "must be a finite number"),
    "max_time": ("1e300", "must be from 1 to 86400 seconds"),
    "retries": ("11", "must be from 0 to 10"),
    "allow_insecure_http": ("maybe", "must be true or false"),
    "offline": ("2", "must be true or false"),
    "engine": ("kokoro", "must be one of auto, piper, espeak, tone"),
    "keep_alive": ("-1", "must be from 0 to 86400 seconds"),
    "input_pause": ("0", "must be from 0.05 to 60 seconds"),
    "markdown": ("md", "must be true or false"),
    "player": ("vlc", "must be one of ffplay, mpv, pw-play, paplay, aplay, afplay, play"),
}


def test_validation_tables_cover_every_setting() -> None:
    assert set(VALID) == set(INVALID) == set(SETTINGS)


@pytest.mark.parametrize("key", list(VALID))
def test_parse_setting_accepts_and_normalises(key: str) -> None:
    raw, expected = VALID[key]
    assert settings_table.parse_setting(key, raw) == expected


@pytest.mark.parametrize("key", list(INVALID))
def test_parse_setting_rejects_with_the_reason(key: str) -> None:
    raw, reason = INVALID[key]
    with pytest.raises(ConfigError, match=reason):
        settings_table.parse_setting(key, raw)


def test_hyphenated_key_is_accepted() -> None:
    assert settings_table.setting_name("base-url") == "base_url"


def test_a_file_whose_profiles_is_not_a_table_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('profiles = "local"\n')
    with pytest.raises(ConfigError, match="'profiles' must hold tables"):
        config_files.load_file(path)


def test_set_and_unset_in_a_new_profile_create_and_keep_its_table(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    config.set_setting("speaker", "X-VOICE", profile="p", path=path)
    assert config.unset_setting("speaker", profile="p", path=path)[1] is True
    assert tomllib.loads(path.read_text()) == {"profiles": {"p": {}}}


def test_registering_a_builtin_name_as_custom_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="built-in voice"):
        config_files.add_custom_voice("en-female-1-neural", path=tmp_path / "c.toml")
    assert not (tmp_path / "c.toml").exists()


# -- the CLI: set / get / unset / show / path ---------------------------------------------------


@pytest.mark.parametrize("key", [k for k in VALID if k != "token"])
def test_set_get_unset_round_trip(outeai, tmp_path: Path, key: str) -> None:
    raw, expected = VALID[key]
    env = {"OUTEAI_BASE_URL": ""}
    shown = (  # as typed and as TOML writes it: `true`, never Python's `True`
        str(expected).lower()
        if isinstance(expected, bool)
        else f"{expected:g}"
        if isinstance(expected, float)
        else str(expected)
    )
    done = outeai("config", "set", key, raw, env=env)
    assert done.returncode == 0
    assert f"set {key} = {shown} in" in done.stderr
    stored = tomllib.loads(config_file(tmp_path).read_text())
    assert stored == {key: expected}
    got = outeai("config", "get", key, env=env)
    assert got.returncode == 0, got.stderr
    assert got.out.strip() == shown
    unset = outeai("config", "unset", key, env=env)
    assert unset.returncode == 0
    assert f"removed {key} from {config_file(tmp_path)}" in unset.stderr
    assert tomllib.loads(config_file(tmp_path).read_text()) == {}
    again = outeai("config", "unset", key, env=env)
    assert again.returncode == 0 and "nothing changed" in again.stderr


def test_set_rejects_a_bad_value_with_exit_2_and_leaves_the_file(outeai, tmp_path: Path) -> None:
    path = write_config(tmp_path, "temperature = 0.5\n")
    before = sha256_of(path)
    result = outeai("config", "set", "temperature", "3")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "outeai: error: invalid temperature '3': must be a number from 0.1 to 1.0; "
        "e.g. outeai config set temperature 0.4"
    )
    assert sha256_of(path) == before


def test_unknown_key_lists_the_valid_ones(outeai, tmp_path: Path) -> None:
    result = outeai("config", "set", "voice", "X")
    assert result.returncode == 2
    assert "unknown setting 'voice'" in result.stderr
    assert (
        "valid settings: token, base_url, api, speaker, temperature, format, timeout, "
        "max_chars, jobs" in result.stderr
    )
    assert not config_file(tmp_path).exists()


def test_the_voice_setting_a_user_reaches_for_is_named_speaker(outeai) -> None:
    result = outeai("config", "set", "voice", "EN-MALE-1-NEUTRAL")
    assert result.returncode == 2
    assert "unknown setting 'voice'; did you mean speaker?" in result.stderr


def test_set_without_value_is_only_for_the_token(outeai) -> None:
    result = outeai("config", "set", "speaker")
    assert result.returncode == 2
    assert "give a value: outeai config set speaker VALUE" in result.stderr


def test_show_lists_every_setting_with_its_source(outeai, tmp_path: Path, server) -> None:
    write_config(tmp_path, 'speaker = "EN-MALE-1-NEUTRAL"\n')
    result = outeai("config", "show")
    assert result.returncode == 0, result.stderr
    table = parse_columns(result.out.splitlines()[: len(SETTINGS) + 1])
    rows = {row["SETTING"]: [row["VALUE"], row["SOURCE"]] for row in table}
    assert list(rows) == list(SETTINGS)
    assert rows["speaker"] == ["EN-MALE-1-NEUTRAL", "config file"]
    assert rows["base_url"] == [server.base_url, "environment (OUTEAI_BASE_URL)"]
    assert rows["token"] == ["test…cdef", "environment (OUTEAI_TOKEN)"]
    assert rows["temperature"] == ["0.4", "default"]
    assert rows["format"] == ["(not set)", "default"]
    assert f"config file: {config_file(tmp_path)}" in result.out
    assert "─" not in result.out and "│" not in result.out  # piped: no box drawing


def test_show_json_carries_values_and_sources(outeai, tmp_path: Path) -> None:
    write_config(tmp_path, "timeout = 30.0\n")
    result = outeai("config", "show", "--json", "--base-url", "https://flag.example/api/v1")
    report = json.loads(result.out)
    assert report["config_file"] == str(config_file(tmp_path))
    assert report["config_file_exists"] is True
    assert report["settings"]["timeout"] == {"value": 30.0, "source": "config file"}
    assert report["settings"]["base_url"] == {
        "value": "https://flag.example/api/v1",
        "source": "flag",
    }
    assert report["settings"]["token"]["value"] == "test…cdef"
    assert report["settings"]["format"] == {"value": None, "source": "default"}


def test_show_as_a_rich_table_on_a_terminal(cli_env, tmp_path: Path) -> None:
    env = {**cli_env, "TERM": "xterm-256color"}
    code, screen, _ = run_in_pty(["config", "show"], env, tmp_path)
    assert code == 0
    assert "SETTING" in screen and "─" in screen and "temperature" in screen


def test_path_prints_the_xdg_location_and_honours_outeai_config(outeai, tmp_path: Path) -> None:
    assert outeai("config", "path").out.strip() == str(config_file(tmp_path))
    custom = tmp_path / "custom.toml"
    result = outeai("config", "path", env={"OUTEAI_CONFIG": str(custom)})
    assert result.out.strip() == str(custom)
    outeai("config", "set", "speaker", "EN-MALE-1-NEUTRAL", env={"OUTEAI_CONFIG": str(custom)})
    assert tomllib.loads(custom.read_text()) == {"speaker": "EN-MALE-1-NEUTRAL"}
    assert not config_file(tmp_path).exists()


def test_get_token_without_one_exits_3_with_the_fix(outeai) -> None:
    result = outeai("config", "get", "token", env=NO_ENV)
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "outeai: error: no API token; run 'outeai config set token' or export OUTEAI_TOKEN=..."
    )


def test_set_notes_when_the_environment_still_takes_precedence(outeai) -> None:
    result = outeai("config", "set", "base_url", "https://file.example/api/v1")
    assert result.returncode == 0
    assert (
        "note: base_url is still taken from the environment (OUTEAI_BASE_URL), which comes first"
        in result.stderr
    )


# -- file permissions and damage ----------------------------------------------------------------


def test_written_file_is_0600_in_a_0700_directory(outeai, tmp_path: Path) -> None:
    assert outeai("config", "set", "speaker", "EN-MALE-1-NEUTRAL").returncode == 0
    path = config_file(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_group_readable_file_gets_a_warning_naming_the_chmod_fix(outeai, tmp_path: Path) -> None:
    path = write_config(tmp_path, 'speaker = "EN-MALE-1-NEUTRAL"\n')
    path.chmod(0o640)
    result = outeai("config", "show")
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"outeai: warning: {path} is readable by other users and may hold your token; "
        f"run: chmod 600 {path}"
    ]


def test_a_private_file_gets_no_warning(outeai, tmp_path: Path) -> None:
    write_config(tmp_path, 'speaker = "EN-MALE-1-NEUTRAL"\n')
    assert outeai("config", "show").stderr == ""


CORRUPT = 'speaker = "EN-MALE-1-NEUTRAL"\ntemperature = = 0.5\n'

READERS = [
    ("config", "show"),
    ("config", "get", "speaker"),
    ("config", "set", "speaker", "EN-FEMALE-2-NEUTRAL"),
    ("config", "set", "token"),
    ("config", "unset", "speaker"),
    ("voices",),
    ("voices", "--local"),
    ("voices", "add", "my-voice"),
    ("voices", "remove", "my-voice"),
    ("say", "hi", "-o", "x.flac"),
]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_corrupt_file_is_reported_with_line_and_left_unchanged(
    outeai, tmp_path: Path, server, args: tuple[str, ...]
) -> None:
    path = write_config(tmp_path, CORRUPT)
    before = sha256_of(path)
    result = outeai(*args, input="new-token-value-1234567\n")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith(f"outeai: error: the config file {path} is not valid TOML: ")
    assert "(at line 2, column 15)" in line
    assert "it was left unchanged" in line
    assert "Traceback" not in result.stderr
    assert sha256_of(path) == before
    assert server.tts_requests() == []
    assert not (tmp_path / "x.flac").exists()


def test_config_path_still_works_on_a_corrupt_file(outeai, tmp_path: Path) -> None:
    path = write_config(tmp_path, CORRUPT)
    result = outeai("config", "path")
    assert (result.returncode, result.out.strip()) == (0, str(path))


# -- the token from stdin or a hidden prompt --------------------------------------------------


def test_set_token_reads_one_line_from_piped_stdin(outeai, tmp_path: Path) -> None:
    result = outeai("config", "set", "token", input=f"{LONG_TOKEN}\nsecond line\n")
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(config_file(tmp_path).read_text()) == {"token": LONG_TOKEN}
    assert LONG_TOKEN not in result.stderr + result.out
    assert "set token = cfg-…6Uy9" in result.stderr


def test_set_token_with_empty_stdin_is_an_error(outeai, tmp_path: Path) -> None:
    result = outeai("config", "set", "token", input="")
    assert result.returncode == 2
    assert "no token on stdin" in result.stderr
    assert not config_file(tmp_path).exists()


def test_set_token_on_the_command_line_warns_about_shell_history(outeai) -> None:
    result = outeai("config", "set", "token", LONG_TOKEN)
    assert result.returncode == 0
    assert "stays in your shell history" in result.stderr


def test_set_token_on_a_terminal_prompts_without_echo(cli_env, tmp_path: Path) -> None:
    code, screen, _ = run_in_pty(
        ["config", "set", "token"],
        {**cli_env, "TERM": "xterm-256color"},
        tmp_path,
        stdin_tty=True,
        answer=(b"API token: ", f"{LONG_TOKEN}\r".encode()),
    )
    assert code == 0, screen
    assert "API token:" in screen
    assert LONG_TOKEN not in screen  # not echoed, not printed back
    assert tomllib.loads(config_file(tmp_path).read_text()) == {"token": LONG_TOKEN}


# -- profiles through the CLI --------------------------------------------------------------------


def test_profile_set_writes_its_table_and_show_reports_it(outeai, tmp_path: Path) -> None:
    result = outeai("config", "set", "--profile", "work", "speaker", "EN-MALE-2-NEUTRAL")
    assert result.returncode == 0
    assert "[profiles.work]" in result.stderr
    data = tomllib.loads(config_file(tmp_path).read_text())
    assert data == {"profiles": {"work": {"speaker": "EN-MALE-2-NEUTRAL"}}}
    shown = json.loads(outeai("config", "show", "--profile", "work", "--json").out)
    assert shown["profile"] == "work"
    assert shown["settings"]["speaker"] == {"value": "EN-MALE-2-NEUTRAL", "source": "profile work"}
    by_env = json.loads(outeai("config", "show", "--json", env={"OUTEAI_PROFILE": "work"}).out)
    assert by_env["settings"]["speaker"]["source"] == "profile work"
    plain = json.loads(outeai("config", "show", "--json").out)
    assert plain["settings"]["speaker"]["source"] == "default"


def test_unknown_profile_exits_2(outeai) -> None:
    result = outeai("config", "show", "--profile", "nope")
    assert result.returncode == 2
    assert "unknown profile 'nope'" in result.stderr


def test_say_uses_the_profile_base_url_and_token(outeai, tmp_path: Path, server) -> None:
    write_config(
        tmp_path,
        'base_url = "http://127.0.0.1:1/api/v1"\n'
        f'[profiles.local]\nbase_url = "{server.base_url}"\ntoken = "{TOKEN}"\n'
        'speaker = "EN-MALE-1-NEUTRAL"\n',
    )
    result = outeai("say", "hi", "-o", "x.flac", "--profile", "local", env=NO_ENV)
    assert result.returncode == 0, result.stderr
    assert server.tts_requests()[0]["speaker"] == {"default": "EN-MALE-1-NEUTRAL"}


def test_say_flag_beats_environment_beats_file(outeai, tmp_path: Path, server) -> None:
    write_config(
        tmp_path, 'speaker = "EN-MALE-1-NEUTRAL"\nbase_url = "http://127.0.0.1:1/api/v1"\n'
    )
    assert outeai("say", "a", "-o", "a.flac").returncode == 0  # env base_url beats the file
    assert outeai("say", "b", "-o", "b.flac", "-s", "DE-FEMALE-1-NEUTRAL").returncode == 0
    speakers = [r["speaker"] for r in server.tts_requests()]
    assert speakers == [{"default": "EN-MALE-1-NEUTRAL"}, {"default": "DE-FEMALE-1-NEUTRAL"}]


def test_sdk_token_variable_is_enough_for_say(outeai, server) -> None:
    result = outeai(
        "say", "hi", "-o", "x.flac", env={"OUTEAI_TOKEN": "", "OUTEAI_API_TOKEN": TOKEN}
    )
    assert result.returncode == 0, result.stderr


def test_config_commands_do_not_import_httpx_or_soundfile(run_cli, tmp_path: Path) -> None:
    for args in (
        ("config", "set", "format", "wav"),
        ("config", "show"),
        ("config", "get", "format"),
        ("config", "unset", "format"),
        ("config", "path"),
    ):
        result = run_cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert result.returncode == 0, result.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
        assert "httpx" not in imported and "soundfile" not in imported, args
        assert "outeai_cli.settings.table" in imported  # the check sees imports at all


def test_a_hand_written_number_where_text_belongs_is_a_config_error(
    outeai, server, tmp_path: Path
) -> None:
    path = tmp_path / "config" / "outeai" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("speaker = 3\n")
    path.chmod(0o600)
    result = outeai("say", "hi", "-o", "x.flac")
    assert result.returncode == 2
    assert "invalid speaker 3 in config file: must be a string" in result.stderr
    assert server.tts_requests() == []


def _make_fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.symlink_to("/dev/zero"), "is not a regular file"),  # read until OOM
        (_make_fifo, "is not a regular file"),  # waited for a writer for ever
        (lambda p: p.write_text("a = " + "[" * 100_000 + "]" * 100_000), "nested too deep"),
        (lambda p: p.write_text(f'a = "{"x" * (2 << 20)}"\n'), "is over 1 MiB"),
    ],
    ids=["dev-zero", "fifo", "deep", "huge"],
)
@pytest.mark.parametrize("args", [("say", "hi", "-o", "x.flac"), ("config", "set", "speaker", "X")])
def test_a_config_file_that_is_not_a_small_toml_file_is_one_line(
    run_cli, tmp_path: Path, server, make, problem: str, args: tuple[str, ...]
) -> None:
    path = tmp_path / "odd.toml"
    make(path)
    result = run_cli(*args, env={"OUTEAI_CONFIG": str(path)}, timeout=20)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"outeai: error: the config file {path} ")
    assert problem in result.stderr
    assert result.stderr.count("\n") == 1
    assert server.tts_requests() == []


def test_a_hand_edited_voice_description_cannot_act_on_the_terminal(outeai, tmp_path) -> None:
    write_config(tmp_path, '[voices.mine]\ndescription = "\\u001b]0;TITLE\\u0007\\u001b[2Jhello"\n')
    result = outeai("voices", "--local", "--kind", "custom")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.out and "\x07" not in result.out
    assert "hello" in result.out


def test_ctrl_c_at_the_token_prompt_is_an_interruption(cli_env, tmp_path: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "outeai_cli", "config", "set", "token"],
        stdin=slave,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=cli_env,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(slave)
    screen = b""

    def read() -> bool:
        nonlocal screen
        ready, _, _ = select.select([master], [], [], 20)
        try:
            data = os.read(master, 1024) if ready else b""
        except OSError:  # EIO: the child closed the terminal
            data = b""
        screen += data
        return bool(data)

    try:
        while b"API token: " not in screen:
            assert read(), screen
        proc.send_signal(signal.SIGINT)
        while read():
            pass
        code = proc.wait(timeout=20)
    finally:
        os.close(master)
    shown = screen.decode()
    assert code == 130, shown
    assert shown.strip().splitlines()[-1] == "outeai: interrupted", shown
    assert not config_file(tmp_path).exists()


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        *[(word, True) for word in ("true", "yes", "on", "1", " TRUE ", "Yes", True)],
        *[(word, False) for word in ("false", "no", "off", "0", "Off ", "NO", False)],
    ],
)
def test_a_switch_reads_the_usual_words_for_yes_and_no(raw: object, value: bool) -> None:
    assert SETTINGS["allow_insecure_http"].parse(raw) is value


@pytest.mark.parametrize("raw", ["2", "maybe", "", 1, None])
def test_a_switch_refuses_anything_else(raw: object) -> None:
    with pytest.raises(ValueError, match=r"^must be true or false$"):
        SETTINGS["allow_insecure_http"].parse(raw)
