"""Property tests of the primary dialect's stream reader (TTSStreamParser over NDJSONAudioReader).

Valid streams, however the bytes are split, give the same events and byte-identical audio.
Anything else (garbage, truncation, a corrupted base64 byte) ends in ProtocolError or, when the
damage is harmless, in exactly the audio a strict JSON + base64 reading of the bytes gives;
never in another exception type and never in success with wrong audio.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from outeai_cli.audio.formats import detect_format
from outeai_cli.errors import ProtocolError
from outeai_cli.http.base64stream import Base64JSONStringDecoder
from outeai_cli.http.dialects.tts import TTSStreamParser
from outeai_cli.http.events import AudioEvent, Event, StatusEvent
from outeai_cli.untrusted import clean_text

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STATUS_FIELDS = ("generation_status", "text_chunks", "current_text_chunk", "generated_seconds")
# JSON escapes inside the base64 that the reader ignores (wrapped base64 lines).
IGNORED_IN_BASE64 = "\n\r\t"


@dataclass
class Outcome:
    events: list[Event]
    audio: bytes


def parse(chunks: list[bytes]) -> Outcome:
    """Feed the chunks to a fresh parser and close it; ProtocolError propagates."""
    sink = io.BytesIO()
    events: list[Event] = []
    parser = TTSStreamParser(sink, events.append)
    for chunk in chunks:
        parser.feed(chunk)
    parser.close()
    return Outcome(events, sink.getvalue())


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# -- valid streams ---------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
# Unknown fields, named so they cannot collide with the ones the reader looks for.
unknown_fields = st.dictionaries(
    st.text(max_size=8).map(lambda k: "x_" + k), json_values, max_size=3
)


@st.composite
def status_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = {"generation_status": draw(st.text(min_size=1, max_size=30))}
    if draw(st.booleans()):
        obj["text_chunks"] = draw(st.integers(1, 50))
        obj["current_text_chunk"] = draw(st.integers(1, 50))
        obj["generated_seconds"] = draw(st.floats(0, 1e4, allow_nan=False))
    obj.update(draw(unknown_fields))
    keys = list(obj)
    order = draw(st.permutations(keys))
    return {k: obj[k] for k in order}


@dataclass
class ValidStream:
    data: bytes
    statuses: list[dict[str, Any]]
    audio: bytes
    duration: float
    audio_span: tuple[int, int]  # where the base64 text sits in `data`


def escape_base64(draw: st.DrawFn, encoded: str) -> str:
    """Optionally escape '/' as '\\/' (as PHP does) and wrap lines with '\\n' escapes."""
    text = encoded
    if draw(st.booleans()):
        text = text.replace("/", "\\/")
    width = draw(st.one_of(st.none(), st.integers(1, 76)))
    if width:
        # Wrap on the unescaped text so an escape is never cut in two.
        pieces, line, count = [], [], 0
        i = 0
        while i < len(text):
            token = text[i : i + 2] if text[i] == "\\" else text[i]
            line.append(token)
            count += 1
            i += len(token)
            if count == width:
                pieces.append("".join(line))
                line, count = [], 0
        pieces.append("".join(line))
        text = "\\n".join(pieces)
    return text


@st.composite
def valid_streams(draw: st.DrawFn) -> ValidStream:
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    ascii_only = draw(st.booleans())  # raw UTF-8 in status text tests multi-byte splits

    def line(obj: dict[str, Any]) -> bytes:
        blank = newline * draw(st.integers(0, 2))
        return blank + json.dumps(obj, ensure_ascii=ascii_only).encode() + newline

    statuses = draw(st.lists(status_objects(), max_size=5))
    out = bytearray()
    for obj in statuses:
        out += line(obj)
        if draw(st.integers(0, 4)) == 0:  # an unknown event type, to be ignored
            out += line({"event": "heartbeat", **draw(unknown_fields)})

    audio = b"fLaC" + draw(st.binary(max_size=700))
    duration = draw(st.floats(0, 1e4, allow_nan=False))
    encoded = escape_base64(draw, base64.b64encode(audio).decode())
    # JSON allows any whitespace around the colon, more than a key's length included.
    colon = draw(st.sampled_from([":", ": ", " : ", " " * 70 + ":\r\t" + " " * 70]))
    tail = {"duration": duration, "request_finished": True, **draw(unknown_fields)}
    tail_json = json.dumps(tail)[1:-1]
    if draw(st.booleans()):  # the audio key first, or after the other fields
        head = f'{{"data": {{"audio_bytes"{colon}"'
        after = f'", {tail_json}}}}}'
    else:
        head = f'{{"data": {{{tail_json}, "audio_bytes"{colon}"'
        after = '"}}'
    out += newline * draw(st.integers(0, 2)) + head.encode()
    start = len(out)
    out += encoded.encode()
    span = (start, len(out))
    out += after.encode()
    if draw(st.booleans()):  # the last line may end without a newline
        out += newline
        if draw(st.booleans()):
            out += line({"event": "done"})
    return ValidStream(bytes(out), statuses, audio, duration, span)


def expected_events(stream: ValidStream) -> list[Event]:
    events: list[Event] = [
        StatusEvent(
            stage=clean_text(obj["generation_status"], limit=200),  # server text: made safe
            text_chunks=obj.get("text_chunks"),
            current_text_chunk=obj.get("current_text_chunk"),
            generated_seconds=obj.get("generated_seconds"),
            extra={k: v for k, v in obj.items() if k not in STATUS_FIELDS},
        )
        for obj in stream.statuses
    ]
    events.append(AudioEvent(size=len(stream.audio), duration=stream.duration, format="flac"))
    return events


@SETTINGS
@given(stream=valid_streams(), cuts=st.lists(st.integers(0, 5000), max_size=40))
def test_any_rechunking_of_a_valid_stream_gives_the_same_events_and_audio(
    stream: ValidStream, cuts: list[int]
) -> None:
    result = parse(split_at(stream.data, cuts))
    assert result.events == expected_events(stream)
    assert result.audio == stream.audio


@settings(max_examples=60, deadline=None)
@given(stream=valid_streams())
def test_a_valid_stream_fed_one_byte_at_a_time_gives_the_same_events_and_audio(
    stream: ValidStream,
) -> None:
    data = stream.data
    result = parse([data[i : i + 1] for i in range(len(data))])
    assert result.events == expected_events(stream)
    assert result.audio == stream.audio


# -- hostile input ---------------------------------------------------------------------------


def reference_outcome(data: bytes) -> bytes | None:
    """The audio a strict, whole-stream reading gives, or None where it must be an error.

    Each non-blank line must be a JSON object; the one holding data.audio_bytes is the final
    event; its string, minus JSON-escaped line breaks and tabs, must be strict base64 of a known
    audio format, and request_finished must be true.
    """
    audio = None
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(obj, dict):
            return None
        inner = obj.get("data")
        if isinstance(inner, dict) and "audio_bytes" in inner:
            text = inner["audio_bytes"]
            if audio is not None or not isinstance(text, str):
                return None
            if inner.get("request_finished") is not True:
                return None
            try:
                stripped = text.translate({ord(c): None for c in IGNORED_IN_BASE64})
                if len(stripped) % 4:  # (CPython's strict mode lets excess "=" pass)
                    return None
                audio = binascii.a2b_base64(stripped.encode("ascii"), strict_mode=True)
            except (ValueError, binascii.Error):
                return None
            if not audio or detect_format(audio[:16]) == "unknown":
                return None
    return audio


def outcome_or_error(chunks: list[bytes]) -> Outcome | None:
    try:
        return parse(chunks)
    except ProtocolError:
        return None


@SETTINGS
@given(
    garbage=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
    cuts=st.lists(st.integers(0, 300), max_size=10),
)
@example(garbage=b"[" * 5000 + b"\n", cuts=[])  # nesting deeper than the JSON parser recurses
@example(garbage=b'{"data": {"audio_bytes": "' + b"[" * 5000, cuts=[])
@example(garbage=b'{"data": {"audio_bytes": ""}, "x": ' + b"[" * 5000 + b"\n", cuts=[])
def test_arbitrary_bytes_give_a_protocol_error_never_another_exception(
    garbage: bytes, cuts: list[int]
) -> None:
    # Random bytes essentially never form a valid final event; if they did, it must be real.
    result = outcome_or_error(split_at(garbage, cuts))
    if result is not None:
        assert result.audio == reference_outcome(garbage)


@st.composite
def jsonish_lines(draw: st.DrawFn) -> bytes:
    """Lines that are JSON, nearly the protocol, but wrong in some way a fuzzer rarely hits."""
    candidates = st.one_of(
        json_values,
        status_objects(),
        st.fixed_dictionaries(
            {"data": st.fixed_dictionaries({"audio_bytes": json_values | st.text(max_size=20)})},
            optional={"request_finished": json_values},
        ),
        st.fixed_dictionaries(
            {
                "data": st.fixed_dictionaries(
                    {
                        "audio_bytes": st.binary(max_size=30).map(
                            lambda b: base64.b64encode(b).decode()
                        ),
                        "request_finished": st.booleans(),
                    }
                )
            }
        ),
        st.just({"error": "model crashed"}),
    )
    lines = draw(st.lists(candidates, max_size=5))
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    return newline.join(json.dumps(v).encode() for v in lines)


@SETTINGS
@given(data=jsonish_lines(), cuts=st.lists(st.integers(0, 500), max_size=10))
def test_json_lines_that_are_not_a_valid_stream_give_a_protocol_error(
    data: bytes, cuts: list[int]
) -> None:
    result = outcome_or_error(split_at(data, cuts))
    if result is not None:
        assert result.audio == reference_outcome(data)
        assert isinstance(result.events[-1], AudioEvent)


@SETTINGS
@given(
    stream=valid_streams(), where=st.floats(0, 1), cuts=st.lists(st.integers(0, 5000), max_size=10)
)
def test_a_truncated_stream_fails_with_protocol_error_or_still_carries_all_the_audio(
    stream: ValidStream, where: float, cuts: list[int]
) -> None:
    truncated = stream.data[: int(where * len(stream.data))]
    result = outcome_or_error(split_at(truncated, cuts))
    if truncated[: stream.audio_span[1]] != stream.data[: stream.audio_span[1]]:
        assert result is None  # cut inside or before the audio: never a success
    if result is not None:
        assert result.audio == stream.audio
        assert result.events == expected_events(stream)


SMALL_FINAL = b'{"data": {"audio_bytes": "ZkxhQw==", "request_finished": true}}'
SMALL_STREAM = ValidStream(SMALL_FINAL, [], b"fLaC", 0.0, (26, 34))


@SETTINGS
@given(
    stream=valid_streams(),
    where=st.floats(0, 1, exclude_max=True),
    byte=st.integers(0, 255),
    cuts=st.lists(st.integers(0, 5000), max_size=10),
)
@example(stream=SMALL_STREAM, where=0.0, byte=ord("\\"), cuts=[])
@example(stream=SMALL_STREAM, where=0.5, byte=ord('"'), cuts=[])
@example(stream=SMALL_STREAM, where=0.5, byte=ord("="), cuts=[])
@example(stream=SMALL_STREAM, where=0.9, byte=ord("A"), cuts=[])
@example(  # an escaped line break turned into a letter: 16 characters of base64, then "=="
    stream=ValidStream(
        b'{"data": {"duration": 0.0, "request_finished": true, "audio_bytes":"Z\\nk\\nx\\nh'
        b'\\nQ\\nw\\nA\\nA\\nA\\nA\\nA\\nA\\nA\\nA\\n=\\n=\\n"}}',
        [],
        b"fLaC\x00\x00\x00\x00\x00\x00",
        0.0,
        (68, 116),
    ),
    where=0.78125,
    byte=ord("A"),
    cuts=[],
)
def test_a_corrupted_base64_byte_fails_or_decodes_exactly_as_a_strict_reader_would(
    stream: ValidStream, where: float, byte: int, cuts: list[int]
) -> None:
    start, end = stream.audio_span
    index = start + int(where * (end - start))
    mutated = stream.data[:index] + bytes([byte]) + stream.data[index + 1 :]
    result = outcome_or_error(split_at(mutated, cuts))
    assert (result.audio if result else None) == reference_outcome(mutated)


def test_small_stream_fixture_points_at_its_base64() -> None:
    start, end = SMALL_STREAM.audio_span
    assert SMALL_FINAL[start:end] == b"ZkxhQw=="


@pytest.mark.parametrize(
    ("inside", "audio"),
    [
        (b"ZkxhQw==", b"fLaC"),
        (b"ZkxhQ\\u0077==", b"fLaC"),  # an escaped 'w'
        (b"ZkxhQ\\nw==", b"fLaC"),  # a wrapped line
        (b"ZkxhQ\\u000aw==", b"fLaC"),  # the same line break as a \\u escape
        (b"ZkxhQ\\u0020w==", None),  # a space, rejected like a raw one
        (b"ZkxhQ w==", None),
        (b"ZkxhQ\\u00e9w==", None),  # not ASCII
        (b"ZkxhQ\\u+077==", None),  # not four hex digits
        (b"ZkxhQ\\u 077==", None),
        (b"ZkxhQ\\u0_77==", None),
        (b"ZkxhQ\\bw==", None),  # a backspace
        (b"ZkxhQ\\\\w==", None),  # a backslash
        (b"ZkxhQ\\xw==", None),  # not a JSON escape at all
    ],
)
def test_json_escapes_inside_the_base64_mean_what_json_says_at_every_split(
    inside: bytes, audio: bytes | None
) -> None:
    data = b'{"data": {"audio_bytes": "' + inside + b'", "request_finished": true}}\n'
    assert reference_outcome(data) == audio
    for cut in range(len(data) + 1):
        result = outcome_or_error([data[:cut], data[cut:]])
        assert (result.audio if result else None) == audio, cut


# -- the base64 reader's own rules, case by case ------------------------------------------------


def decoded(*pieces: bytes) -> bytes:
    out = io.BytesIO()
    reader = Base64JSONStringDecoder(out)
    for piece in pieces:
        reader.feed(piece)
    reader.finish()
    return out.getvalue()


def test_every_json_spelling_of_a_slash_and_a_line_break_decodes_alike() -> None:
    plain = base64.b64encode(bytes(range(256)) * 3)  # holds "/" and "+"
    assert plain.count(b"/") > 5
    for slash in (b"\\/", b"\\u002f", b"\\u002F"):
        spelled = plain.replace(b"/", slash)
        assert decoded(spelled) == bytes(range(256)) * 3
        half = len(spelled) // 2
        assert decoded(spelled[:half], spelled[half:]) == bytes(range(256)) * 3
    wrapped = b"\\u000a".join(plain[i : i + 76] for i in range(0, len(plain), 76))
    assert decoded(wrapped) == bytes(range(256)) * 3  # escaped line breaks are dropped
    # A letter escaped is kept, not dropped:
    assert decoded(b"QUJD" + b"\\u0058" * 4) == b"ABC" + base64.b64decode(b"XXXX")


def test_data_after_the_padding_or_a_non_ascii_escape_is_refused() -> None:
    with pytest.raises(ProtocolError, match="data after the padding"):
        decoded(b"QQ==", b"QUJD")
    with pytest.raises(ProtocolError, match="a non-ASCII character"):
        decoded(b"QUJD\\u0080")
    with pytest.raises(ProtocolError, match=r"unexpected escape \\q"):
        decoded(b"QUJD\\q")
