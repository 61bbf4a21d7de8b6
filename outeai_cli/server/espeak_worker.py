"""The espeak-ng worker: a program of its own that speaks one request per line.

`outeai serve` runs this file as a separate process (`python espeak_worker.py LIBRARY [DATA]`)
and never loads espeak-ng itself: libespeak-ng (GPL-3.0-or-later; from the `espeakng-loader`
package of the `voice` extra, or the system's) is loaded here, in this process only, and so is
`pykakasi` (GPL-3.0-or-later), which spells Japanese kanji in kana for espeak-ng's Japanese
voice (which reads kana only). It imports nothing from outeai.

Protocol, on stdin and stdout:
- on start, one JSON line: `{"rate": 22050, "kana": true}` (ready; `kana`: kanji can be read),
  or `{"error": "..."}` and exit status 1;
- in: one JSON line per request, `{"voice": "de+f3", "pitch": 47, "text": "..."}`;
- out: one JSON line `{"frames": N}` then N 16-bit little-endian mono samples at `rate`, or
  `{"error": "..."}` when espeak-ng refused the request (the worker goes on).
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import re
import sys
from typing import Any, BinaryIO

_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: synthesize into the callback, return when done
_PITCH = 3  # espeak_PARAMETER
_POSITION_CHARACTER = 1
_CHARS_UTF8 = 1
_KANJI = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")

_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class Espeak:
    """libespeak-ng, initialised to synthesize into memory."""

    def __init__(self, library: str, data: str | None) -> None:
        self.lib = ctypes.CDLL(library)
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self.rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, data.encode() if data else None, 0)
        if self.rate <= 0:
            raise RuntimeError(f"espeak-ng could not start (data: {data or 'built-in path'})")
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self._samples = bytearray()
        self._callback = _Callback(self._collect)  # kept referenced while the library holds it
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: Any, count: int, events: Any) -> int:
        if wav and count > 0:
            self._samples += ctypes.string_at(wav, count * 2)
        return 0  # go on

    def speak(self, voice: str, pitch: int, text: str) -> bytes:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        self.lib.espeak_SetParameter(_PITCH, max(0, min(100, pitch)), 0)
        data = text.encode("utf-8") + b"\0"
        self._samples = bytearray()
        if self.lib.espeak_Synth(
            data, len(data), 0, _POSITION_CHARACTER, 0, _CHARS_UTF8, None, None
        ):
            raise ValueError("espeak-ng refused the text")
        self.lib.espeak_Synchronize()
        return bytes(self._samples)


class Kana:
    """Japanese text with its kanji spelled in hiragana (pykakasi), loaded on first use."""

    def __init__(self) -> None:
        self.available = importlib.util.find_spec("pykakasi") is not None
        self._converter: Any = None

    def spell(self, text: str) -> str:
        if not self.available or not _KANJI.search(text):
            return text
        if self._converter is None:
            import pykakasi

            self._converter = pykakasi.kakasi()
        return "".join(item["hira"] for item in self._converter.convert(text))


def _reply(out: BinaryIO, header: dict[str, Any], audio: bytes = b"") -> None:
    out.write(json.dumps(header).encode() + b"\n" + audio)
    out.flush()


def main(argv: list[str]) -> int:
    out = sys.stdout.buffer
    try:
        espeak = Espeak(argv[1], argv[2] if len(argv) > 2 else None)
    except (OSError, RuntimeError, IndexError, AttributeError) as exc:
        _reply(out, {"error": f"cannot load libespeak-ng: {exc}"})
        return 1
    kana = Kana()
    _reply(out, {"rate": espeak.rate, "kana": kana.available})
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            text = str(request["text"])
            voice = str(request["voice"])
            if voice.split("+")[0] == "ja":
                text = kana.spell(text)
            audio = espeak.speak(voice, int(request.get("pitch", 50)), text)
        except (ValueError, KeyError, TypeError) as exc:
            _reply(out, {"error": str(exc)})
            continue
        _reply(out, {"frames": len(audio) // 2}, audio)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
