"""`--api auto`: find out once which dialect a base URL speaks, and remember it.

Only the 2026 API answers `GET {base}/health`, so one request tells `tts-stream` from the
rest. The seed's `tts` and the 2025 `audio` have no such read-only endpoint, and telling
them apart would take a synthesis request: a base URL without `/health` gets the default,
`tts`; choose `audio` explicitly. The answer is kept per base URL in the user cache dir
(delete the file to ask again).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from outeai_cli.errors import Advice, APIError, Fix, TransportError
from outeai_cli.http.dialects import DEFAULT_DIALECT, DIALECTS

if TYPE_CHECKING:
    import httpx

CACHE_FILE = "api-dialects.json"
PROBE_TIMEOUT = 15.0
FALLBACK = DEFAULT_DIALECT
_HEALTH_LIMIT = 64 * 1024
_CACHE_LIMIT = 1 << 20
_ACCEPT_JSON = {"Accept": "application/json"}
_CHOOSE = Advice(Fix.CHOOSE, "api", "|".join(DIALECTS), "to skip the detection")


class APIChoice(NamedTuple):
    """The dialect a client speaks, and how it was picked."""

    name: str
    how: str  # "chosen" (given), "detected" (probed just now), "remembered" (an earlier probe)
    cache: Path | None = None  # where the answer is remembered
    not_stored: Path | None = None  # the cache that could not be written (read-only...)

    def describe(self, base_url: str) -> str:
        """One line for stderr saying which API is used and why."""
        if self.how == "chosen":
            return f"using the {self.name} API"
        if self.how == "detected":
            reason = "it answers GET /health" if self.name == "tts-stream" else "no GET /health"
            if self.cache is None:
                kept = f"not remembered: cannot write {self.not_stored}, so it asks every time"
            else:
                kept = f"remembered in {self.cache}"
            return f"using the {self.name} API for {base_url} (auto-detected: {reason}; {kept})"
        return f"using the {self.name} API for {base_url} (auto-detected earlier; {self.cache})"


def cache_path() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("outeai", appauthor=False)) / CACHE_FILE


def detect(
    base_url: str, http: httpx.Client, *, cache: Path | None = None, timeout: float = PROBE_TIMEOUT
) -> APIChoice:
    """The remembered dialect for `base_url`, else probe it once and remember the answer."""
    cache = cache or cache_path()
    known = _load(cache).get(base_url)
    if isinstance(known, dict) and known.get("api") in DIALECTS:
        return APIChoice(known["api"], "remembered", cache)
    name = probe(base_url, http, timeout=timeout)
    stored = remember(base_url, name, cache)
    return APIChoice(
        name, "detected", cache if stored else None, not_stored=None if stored else cache
    )


def probe(base_url: str, http: httpx.Client, *, timeout: float = PROBE_TIMEOUT) -> str:
    """Ask `GET {base}/health` (no token sent): `tts-stream` if the route exists, else `tts`.

    A JSON object (or a 401/403: the route exists but wants a token) means the 2026 API;
    404/405 means another dialect. Anything else says nothing reliable and is an error.
    """
    import httpx

    from outeai_cli.http.watchdog import fetch
    from outeai_cli.untrusted import clean_text

    url = f"{base_url}/health"
    try:
        answer = fetch(http, "GET", url, seconds=timeout, limit=_HEALTH_LIMIT, headers=_ACCEPT_JSON)
    except httpx.TransportError as exc:
        raise TransportError(
            f"cannot reach {url} to detect the API dialect: "
            f"{clean_text(str(exc) or type(exc).__name__)}",
            hint="check the base URL",
            advice=(_CHOOSE,),
        ) from None
    status = answer.status
    if status in (401, 403) or (200 <= status < 300 and _is_json_object(answer.body)):
        return "tts-stream"
    if status in (404, 405) or 200 <= status < 300:  # a 2xx page that is not JSON: no API
        return FALLBACK
    raise APIError(
        f"cannot detect the API dialect: GET {url} answered HTTP {status}",
        status=status,
        hint="retry later",
        advice=(_CHOOSE,),
    )


def remember(base_url: str, name: str, cache: Path | None = None) -> bool:
    """Store the answer for `base_url`; False when the cache cannot be written (no error)."""
    cache = cache or cache_path()
    data = _load(cache)
    data[base_url] = {"api": name, "detected_at": int(time.time())}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".api-dialects.", dir=cache.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, cache)
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _load(cache: Path) -> dict[str, object]:
    """The remembered answers; a missing or damaged file is an empty cache."""
    from outeai_cli.untrusted import parse_json

    try:
        data = parse_json(cache.read_bytes(), max_bytes=_CACHE_LIMIT)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_json_object(body: bytes) -> bool:
    from outeai_cli.untrusted import parse_json

    try:
        return isinstance(parse_json(body), dict)
    except ValueError:
        return False
