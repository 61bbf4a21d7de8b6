"""`outeai voices`: the catalogue, custom voices and the server's list; add/remove; suggestions."""

from __future__ import annotations

import json
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from outeai_cli.voices.catalogue import BUILTIN_VOICES, find_voice
from outeai_cli.voices.listing import VoiceEntry, filter_entries, merge, server_entries
from tests.conftest import TOKEN
from tests.helpers import (
    closed_port_url,
    config_file,
    outeai_serve,
    parse_columns,
    run_in_pty,
    write_config,
)

BOX = set("─│┃━┏┓┗┛╭╮╰╯┌┐└┘")


class CannedServer:
    """A loopback HTTP server answering every request with one status and body.

    The local server cannot produce these cases (it always serves /voices), so a stub stands
    in for "a server without the endpoint" (404) and "a broken server" (500).
    """

    def __init__(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.requests: list[tuple[str, str | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append((self.path, self.headers.get("Authorization")))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def canned() -> Iterator[type[CannedServer]]:
    started: list[CannedServer] = []

    def start(status: int, body: bytes = b'{"message": "nope"}') -> CannedServer:
        server = CannedServer(status, body)
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        server.close()


def failing_server_url(failure: str, make_server, canned) -> str:
    """A server that fails the voice list: `refused` (nothing listens), `401` (our token is not
    one it accepts) or `500` (a broken server)."""
    if failure == "refused":
        return closed_port_url()
    if failure == "401":
        return make_server(tokens=frozenset({"other"})).base_url
    return canned(500, b'{"message": "broken"}').base_url


def names(result) -> list[str]:
    return [v["name"] for v in json.loads(result.out)]


# -- the three renderings -------------------------------------------------------------------


def test_plain_columns_when_piped(outeai) -> None:
    result = outeai("voices", "--local")
    assert result.returncode == 0, result.stderr
    lines = result.out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "LANGUAGE", "GENDER", "DESCRIPTION"]
    rows = {row["NAME"]: row for row in parse_columns(lines)}
    assert rows["EN-FEMALE-1-NEUTRAL"]["KIND"] == "default"
    assert rows["EN-FEMALE-1-NEURAL"]["DESCRIPTION"] == "alias of EN-FEMALE-1-NEUTRAL"
    assert rows["DE-FEMALE-1-NEUTRAL"]["LANGUAGE"] == "de"
    assert len(rows) == len(BUILTIN_VOICES) + 1  # one alias row
    assert not BOX & set(result.out)
    kind_column = lines[0].index("KIND")
    assert all(line[kind_column - 2 : kind_column] == "  " for line in lines)


def test_rich_table_on_a_terminal(cli_env, tmp_path: Path) -> None:
    code, screen, _ = run_in_pty(["voices", "--local"], cli_env, tmp_path)
    assert code == 0, screen
    assert BOX & set(screen)
    assert "EN-FEMALE-1-NEUTRAL" in screen and "alias of EN-FEMALE-1-NEUTRAL" in screen


def test_json_is_a_list_of_voice_objects(outeai) -> None:
    result = outeai("voices", "--local", "--json")
    voices = json.loads(result.out)
    alias = next(v for v in voices if v["name"] == "EN-FEMALE-1-NEURAL")
    assert alias == {
        "name": "EN-FEMALE-1-NEURAL",
        "kind": "default",
        "language": "en",
        "gender": "female",
        "description": "alias of EN-FEMALE-1-NEUTRAL",
        "alias_of": "EN-FEMALE-1-NEUTRAL",
        "source": "catalogue",
        "spoken_by": None,  # no server asked: nobody says who speaks it
    }
    assert {v["name"] for v in voices} >= {v.name for v in BUILTIN_VOICES}


def test_local_does_not_import_httpx(run_cli) -> None:
    result = run_cli("voices", "--local", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "rich" not in imported  # piped: plain columns need no Rich either
    assert "httpx" not in imported and "soundfile" not in imported
    assert "outeai_cli.voices.listing" in imported


# -- filters -------------------------------------------------------------------------------------


def test_kind_and_language_filters(outeai, tmp_path: Path) -> None:
    write_config(tmp_path, '[voices.narrator]\ndescription = "my clone"\n')
    assert names(outeai("voices", "--local", "--json", "--kind", "custom")) == ["narrator"]
    english = names(outeai("voices", "--local", "--json", "--language", "EN"))
    assert english == [
        "EN-FEMALE-1-NEUTRAL",
        "EN-FEMALE-1-NEURAL",
        "EN-FEMALE-2-NEUTRAL",
        "EN-MALE-1-NEUTRAL",
        "EN-MALE-2-NEUTRAL",
    ]
    both = names(outeai("voices", "--local", "--json", "--kind", "default", "--language", "fr"))
    assert both == ["FR-MALE-1-NEUTRAL"]


def test_bad_kind_is_a_usage_error(outeai) -> None:
    result = outeai("voices", "--local", "--kind", "cloned")
    assert result.returncode == 2
    assert "cloned" in result.stderr


def test_no_match_prints_a_note_and_exits_0(outeai) -> None:
    result = outeai("voices", "--local", "--language", "xx")
    assert (result.returncode, result.out) == (0, "")
    assert "no voices match" in result.stderr


def test_language_filter_matches_regional_codes() -> None:
    rows = [VoiceEntry("A", "default", "en-gb"), VoiceEntry("B", "default", "eng")]
    assert [e.name for e in filter_entries(rows, language="en")] == ["A"]


# -- the server's list -------------------------------------------------------------------------


def test_server_list_is_merged_with_catalogue_and_custom(outeai, make_server, tmp_path) -> None:
    server = make_server(custom_voices=frozenset({"studio-voice", "narrator"}))
    write_config(tmp_path, '[voices.narrator]\ndescription = "registered here"\n')
    result = outeai("voices", "--json", env={"OUTEAI_BASE_URL": server.base_url})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    voices = {v["name"]: v for v in json.loads(result.out)}
    assert voices["studio-voice"]["kind"] == "custom"
    assert voices["studio-voice"]["source"] == "server"
    assert voices["narrator"]["source"] == "config"  # registered locally: listed once
    # The user's words stay; the server adds who speaks the voice there.
    assert voices["narrator"]["description"] == "registered here; spoken here by tone test signal"
    assert voices["EN-FEMALE-1-NEUTRAL"]["source"] == "catalogue"
    assert [v for v in json.loads(result.out) if v["name"] == "narrator"] == [voices["narrator"]]


def test_remote_shows_only_the_server_list(outeai, make_server, tmp_path) -> None:
    server = make_server(custom_voices=frozenset({"studio-voice"}))
    write_config(tmp_path, '[voices.narrator]\ndescription = "registered here"\n')
    result = outeai(
        "voices", "--remote", "--json", "--kind", "custom", "--base-url", server.base_url
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.out) == [
        {
            "name": "studio-voice",
            "kind": "custom",
            "language": None,
            "gender": None,
            "description": "custom voice; spoken here by tone test signal",  # says who speaks
            "alias_of": None,
            "source": "server",
            "spoken_by": "tone test signal",
        }
    ]


def test_the_listing_says_which_model_speaks_each_voice_on_the_server_asked(
    outeai, tmp_path
) -> None:
    """`outeai serve` says per voice which engine speaks it; that beats the catalogue's word."""
    write_config(tmp_path, '[voices.narrator]\ndescription = "registered here"\n')
    with outeai_serve("--engine", "tone", "--custom-voice", "narrator") as served:
        env = {"OUTEAI_BASE_URL": served.base_url}
        listed = outeai("voices", "--json", env=env)
        table = outeai("voices", "--language", "en", env=env)
    assert listed.returncode == 0 and table.returncode == 0, listed.stderr + table.stderr
    voices = {v["name"]: v for v in json.loads(listed.out)}
    builtin = find_voice("EN-FEMALE-1-NEUTRAL")
    assert builtin is not None
    assert voices[builtin.name]["spoken_by"] == "tone test signal"
    assert voices[builtin.name]["description"] == (
        f"{builtin.description}; spoken here by tone test signal"
    )
    alias = voices["EN-FEMALE-1-NEURAL"]  # still points at its voice, whose row says who speaks
    assert (alias["description"], alias["spoken_by"]) == (
        "alias of EN-FEMALE-1-NEUTRAL",
        "tone test signal",
    )
    narrator = voices["narrator"]  # registered here: the user's words stay, the speaker is added
    assert (narrator["source"], narrator["description"]) == (
        "config",
        "registered here; spoken here by tone test signal",
    )
    row = next(line for line in table.out.splitlines() if line.startswith(builtin.name))
    assert row.endswith("spoken here by tone test signal"), table.out


def test_a_server_that_does_not_say_who_speaks_leaves_the_catalogue_words(outeai, canned) -> None:
    stub = canned(200, b'{"data": {"voices": [{"name": "EN-MALE-1-NEUTRAL", "kind": "default"}]}}')
    result = outeai("voices", "--json", "--base-url", stub.base_url)
    assert result.returncode == 0, result.stderr
    voice = next(v for v in json.loads(result.out) if v["name"] == "EN-MALE-1-NEUTRAL")
    builtin = find_voice("EN-MALE-1-NEUTRAL")
    assert builtin is not None
    assert (voice["description"], voice["spoken_by"]) == (builtin.description, None)


def test_token_is_sent_to_the_voices_endpoint(outeai, make_server) -> None:
    server = make_server(tokens=frozenset({TOKEN}), custom_voices=frozenset({"studio-voice"}))
    result = outeai("voices", "--remote", "--json", "--base-url", server.base_url)
    assert result.returncode == 0, result.stderr
    assert "studio-voice" in names(result)


def test_404_falls_back_quietly_to_the_local_lists(outeai, canned) -> None:
    stub = canned(404)
    result = outeai("voices", "--base-url", stub.base_url)
    assert (result.returncode, result.stderr) == (0, "")
    assert "EN-FEMALE-1-NEUTRAL" in result.out
    assert stub.requests == [("/api/v1/voices", f"Bearer {TOKEN}")]


def test_404_with_remote_fails_with_exit_4(outeai, canned) -> None:
    result = outeai("voices", "--remote", "--base-url", canned(404).base_url)
    assert result.returncode == 4
    assert result.out == ""
    assert result.stderr.strip() == "outeai: error: HTTP 404: nope"


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ("refused", "cannot connect"),
        ("401", "HTTP 401: invalid or missing token"),
        ("500", "HTTP 500: broken"),
    ],
)
def test_other_failures_warn_on_one_line_and_still_list(
    outeai, make_server, canned, failure: str, expected: str
) -> None:
    url = failing_server_url(failure, make_server, canned)
    result = outeai("voices", "--base-url", url)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"outeai: warning: could not get the server's voice list from {url}")
    assert expected in lines[0]
    assert "EN-FEMALE-1-NEUTRAL" in result.out


@pytest.mark.parametrize(("failure", "code"), [("refused", 5), ("401", 3), ("500", 5)])
def test_remote_failures_exit_with_the_error_code(
    outeai, make_server, canned, failure: str, code: int
) -> None:
    url = failing_server_url(failure, make_server, canned)
    result = outeai("voices", "--remote", "--base-url", url)
    assert result.returncode == code
    assert result.out == ""
    assert result.stderr.startswith("outeai: error: ")


def test_without_a_token_the_server_is_skipped_with_a_note(outeai, canned) -> None:
    stub = canned(200, b'{"data": {"voices": []}}')
    result = outeai("voices", env={"OUTEAI_TOKEN": "", "OUTEAI_BASE_URL": stub.base_url})
    assert result.returncode == 0
    assert result.stderr.startswith("outeai: note: no token configured")
    assert stub.requests == []
    assert "EN-FEMALE-1-NEUTRAL" in result.out


def test_remote_without_a_token_exits_3(outeai, canned) -> None:
    stub = canned(200, b'{"data": {"voices": []}}')
    result = outeai(
        "voices", "--remote", env={"OUTEAI_TOKEN": "", "OUTEAI_BASE_URL": stub.base_url}
    )
    assert result.returncode == 3
    assert "no API token" in result.stderr
    assert stub.requests == []


def test_local_never_contacts_the_server(outeai, canned) -> None:
    stub = canned(200, b'{"data": {"voices": []}}')
    assert outeai("voices", "--local", "--base-url", stub.base_url).returncode == 0
    assert stub.requests == []


def test_local_and_remote_together_are_refused(outeai) -> None:
    result = outeai("voices", "--local", "--remote")
    assert result.returncode == 2
    assert "--local and --remote exclude each other" in result.stderr


def test_server_entries_accept_the_voice_id_shape_and_fill_from_the_catalogue() -> None:
    rows = server_entries(
        [{"voice_id": "en-female-1-neutral"}, {"voice_id": "x", "type": "Custom"}]
    )
    assert rows[0] == VoiceEntry(
        "en-female-1-neutral",
        "default",
        "en",
        "female",
        BUILTIN_VOICES[0].description,
        source="server",
    )
    assert (rows[1].name, rows[1].kind) == ("x", "custom")
    merged = merge([VoiceEntry("EN-FEMALE-1-NEUTRAL", "default")], rows)
    assert [e.name for e in merged] == ["EN-FEMALE-1-NEUTRAL", "x"]


# -- add / remove ------------------------------------------------------------------------------


def test_add_stores_a_voices_table_and_say_sends_it_as_custom(
    outeai, tmp_path: Path, make_server
) -> None:
    result = outeai("voices", "add", "narrator", "--description", "my cloned voice")
    assert result.returncode == 0, result.stderr
    assert "outeai say -s narrator" in result.stderr
    data = tomllib.loads(config_file(tmp_path).read_text())
    assert data == {"voices": {"narrator": {"description": "my cloned voice"}}}
    listed = json.loads(outeai("voices", "--local", "--json", "--kind", "custom").out)
    assert listed[0]["description"] == "my cloned voice"
    server = make_server(custom_voices=frozenset({"narrator"}))
    said = outeai("say", "hi", "-s", "narrator", "-o", "x.flac", "--base-url", server.base_url)
    assert said.returncode == 0, said.stderr
    assert server.tts_requests()[0]["speaker"] == {"custom": "narrator"}


def test_add_again_updates_the_description(outeai, tmp_path: Path) -> None:
    outeai("voices", "add", "narrator", "-d", "old")
    result = outeai("voices", "add", "narrator", "-d", "new")
    assert "updated the custom voice narrator" in result.stderr
    assert tomllib.loads(config_file(tmp_path).read_text())["voices"]["narrator"] == {
        "description": "new"
    }


def test_add_keeps_other_settings(outeai, tmp_path: Path) -> None:
    write_config(tmp_path, 'speaker = "EN-MALE-1-NEUTRAL"\n[profiles.local]\ntimeout = 5.0\n')
    assert outeai("voices", "add", "narrator").returncode == 0
    assert tomllib.loads(config_file(tmp_path).read_text()) == {
        "speaker": "EN-MALE-1-NEUTRAL",
        "profiles": {"local": {"timeout": 5.0}},
        "voices": {"narrator": {"description": ""}},
    }


def test_remove_forgets_the_voice(outeai, tmp_path: Path) -> None:
    outeai("voices", "add", "narrator")
    result = outeai("voices", "remove", "narrator")
    assert result.returncode == 0
    assert tomllib.loads(config_file(tmp_path).read_text()) == {}
    assert names(outeai("voices", "--local", "--json", "--kind", "custom")) == []


def test_remove_unknown_name_exits_2_with_a_suggestion(outeai) -> None:
    outeai("voices", "add", "narrator")
    result = outeai("voices", "remove", "narator")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "outeai: error: no custom voice named 'narator' (registered: narrator); "
        "did you mean narrator?"
    )


def test_add_builtin_name_is_refused(outeai, tmp_path: Path) -> None:
    result = outeai("voices", "add", "EN-FEMALE-1-NEURAL")
    assert result.returncode == 2
    assert "built-in voice" in result.stderr and "custom:EN-FEMALE-1-NEURAL" in result.stderr
    assert not config_file(tmp_path).exists()


# -- suggestions when the API rejects a speaker ---------------------------------------------


def test_say_suggests_close_names_on_an_unknown_speaker(outeai, server, tmp_path: Path) -> None:
    result = outeai("say", "hi", "-s", "EN-FEMALE-1-NEUTRL", "-o", "x.flac")
    assert result.returncode == 4
    assert "did you mean EN-FEMALE-1-NEUTRAL" in result.stderr
    assert "outeai voices" in result.stderr
    assert not (tmp_path / "x.flac").exists()


def test_say_suggests_registered_custom_names(outeai, server, tmp_path: Path) -> None:
    write_config(tmp_path, "[voices.narrator-two]\n")
    result = outeai("say", "hi", "-s", "custom:narrator-tow", "-o", "x.flac")
    assert result.returncode == 4
    assert "did you mean narrator-two" in result.stderr
