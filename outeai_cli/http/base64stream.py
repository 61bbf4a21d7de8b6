"""Incremental, strict base64 decoding of the audio string as it arrives, at any byte boundary."""

from __future__ import annotations

import binascii
from typing import IO

from outeai_cli.errors import ProtocolError

try:  # SIMD decoding when available; binascii is the portable fallback.
    import pybase64 as _pybase64

    def _decode(data: bytes | bytearray) -> bytes:
        return _pybase64.b64decode(data, validate=True)

except ImportError:  # pragma: no cover - exercised where pybase64 is absent

    def _decode(data: bytes | bytearray) -> bytes:
        return binascii.a2b_base64(data, strict_mode=True)


_SIMPLE_ESCAPES = {ord("/"): b"/", ord("n"): b"", ord("r"): b"", ord("t"): b""}


class Base64JSONStringDecoder:
    """Decode the inside of a JSON string holding base64, writing the bytes to `sink`.

    Handles JSON escapes that may appear in base64 text (`\\/`, `\\n`, `\\r`, `\\t`, `\\uXXXX`)
    and keeps carries for escapes and base64 quanta split across chunks. Bytes reach
    the sink in the order they were decoded; `finish()` checks the string ended on a whole
    quantum.
    """

    def __init__(self, sink: IO[bytes]) -> None:
        self._sink = sink
        self._escape_carry = b""
        self._quantum_carry = b""
        self._padded = False
        self.size = 0
        self.head = b""

    def feed(self, text: bytes | memoryview) -> None:
        data = self._escape_carry + bytes(text) if self._escape_carry else bytes(text)
        self._escape_carry = b""
        if b"\\" in data:
            data = self._unescape(data)
        if self._quantum_carry:
            data = self._quantum_carry + data
        whole = len(data) - len(data) % 4
        self._quantum_carry = data[whole:]
        if whole:
            self._write(data[:whole] if whole != len(data) else data)

    def finish(self) -> None:
        if self._escape_carry:
            raise ProtocolError("invalid JSON escape at the end of the audio data")
        if self._quantum_carry:
            raise ProtocolError(
                "invalid base64 in the audio data: its length is not a multiple of 4 (truncated?)"
            )

    def _write(self, quanta: bytes) -> None:
        if self._padded:
            raise ProtocolError("invalid base64 in the audio data: data after the padding")
        try:
            decoded = _decode(quanta)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(f"invalid base64 in the audio data ({exc})") from None
        if quanta.endswith(b"="):
            self._padded = True
        if len(self.head) < 16:
            self.head = (self.head + decoded[:16])[:16]
        self._sink.write(decoded)
        self.size += len(decoded)

    def _unescape(self, data: bytes) -> bytes:
        parts = data.split(b"\\")
        out = [parts[0]]
        index = 1
        while index < len(parts):
            part = parts[index]
            if part == b"":
                if index == len(parts) - 1:  # a lone backslash at the end: wait for more
                    self._escape_carry = b"\\"
                    break
                raise ProtocolError("invalid base64 in the audio data: a backslash character")
            code = part[0]
            if code in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[code])
                out.append(part[1:])
            elif code == ord("u"):
                if len(part) < 5:
                    if index == len(parts) - 1:
                        self._escape_carry = b"\\" + part
                        break
                    raise ProtocolError("invalid \\u escape in the audio data")
                digits = part[1:5]
                # int() would also take signs, spaces and underscores; JSON wants 4 hex digits.
                if digits.strip(b"0123456789abcdefABCDEF"):
                    raise ProtocolError("invalid \\u escape in the audio data")
                # The same characters as the short escapes: line breaks and tabs are dropped,
                # anything else must be a base64 character (checked when decoded).
                code_point = int(digits, 16)
                if code_point > 0x7F:
                    raise ProtocolError("invalid base64 in the audio data: a non-ASCII character")
                out.append(b"" if chr(code_point) in "\n\r\t" else bytes([code_point]))
                out.append(part[5:])
            else:
                raise ProtocolError(
                    f"invalid base64 in the audio data: unexpected escape \\{chr(code)}"
                )
            index += 1
        return b"".join(out)
