"""The local OuteTTS-compatible server: the app that assembles every dialect's routes.

Each dialect lives in its own module (`routes_tts` the primary /tts, `routes_audio` the 2025
/audio, `routes_stream` the 2026 WAV endpoints and /health) on what `common` shares. Here are
what no dialect owns: `/api/v1/voices`, the control endpoints, and the one handler that turns
a refused request (`HTTPProblem`) into its JSON response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from outeai_cli.server.common import (
    HTTPProblem,
    ServerSettings,
    ServerState,
    bearer_token,
    dripped,
    fault_response,
    problem_response,
)
from outeai_cli.server.faults import ENDPOINT_FAULTS, HOSTILE_TEXT
from outeai_cli.server.requestlog import RequestLogger
from outeai_cli.server.routes_audio import audio_routes
from outeai_cli.server.routes_stream import stream_routes
from outeai_cli.server.routes_tts import tts_routes
from outeai_cli.untrusted import parse_json
from outeai_cli.voices.catalogue import BUILTIN_VOICES

__all__ = ["ServerSettings", "create_app"]


def create_app(settings: ServerSettings) -> Starlette:
    state = ServerState(settings)
    routes = [Route("/api/v1/voices", _voices(state), methods=["GET"])]
    if settings.control:
        routes += _control_routes(state)
    if "tts" in settings.dialects:
        routes += tts_routes(state)
    if "audio" in settings.dialects:
        routes += audio_routes(state)
    if "tts-stream" in settings.dialects:
        routes += stream_routes(state)
    logging = (
        []
        if settings.request_log == "off"
        else [Middleware(RequestLogger, fmt=settings.request_log)]
    )
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPProblem: problem_response},
        middleware=logging,
    )
    app.state.outeai = state
    return app


def _voices(state: ServerState) -> Callable[[Request], Awaitable[Response]]:
    settings = state.settings

    async def voices(request: Request) -> Response:
        # Bearer as the 2026 API does; ?token= as the 2025 API authenticates everything.
        token = bearer_token(request) or request.query_params.get("token", "")
        if settings.tokens and token not in settings.tokens:
            raise HTTPProblem(401, "invalid or missing token", "unauthorized")
        faults = settings.faults.draw(ENDPOINT_FAULTS)
        refusal = fault_response(faults, request, token, '{"data": {"voices": {}}}', 200)
        if refusal is not None:
            return dripped(refusal, faults)
        extra = HOSTILE_TEXT if "control-chars" in faults else ""
        # Each entry says which engine and model really speaks it here (`EngineVoice.listing`).
        speaker = settings.engine.speaker
        listed = []
        for v in BUILTIN_VOICES:
            spoken = speaker(v).listing(v.description)
            listed.append(
                {
                    "voice_id": v.name,
                    "name": v.name,
                    "kind": "default",
                    "language": v.language,
                    "gender": v.gender,
                    **spoken,
                    "description": spoken["description"] + extra,
                    "aliases": list(v.aliases),
                }
            )
        for name in sorted(settings.custom_voices):
            spoken = speaker(None).listing("custom voice")
            listed.append(
                {
                    "voice_id": name,
                    "name": name,
                    "kind": "custom",
                    **spoken,
                    "description": spoken["description"] + extra,
                }
            )
        return dripped(JSONResponse({"data": {"voices": listed}}), faults)

    return voices


def _control_routes(state: ServerState) -> list[Route]:
    """`/_outeai/requests` (every text spoken) and `/_outeai/faults`; guarded by the tokens."""
    settings = state.settings

    def check_access(request: Request) -> None:
        if settings.tokens and bearer_token(request) not in settings.tokens:
            raise HTTPProblem(
                401,
                "the control endpoints need 'Authorization: Bearer <token>' with a server token",
                "unauthorized",
            )

    async def requests_log(request: Request) -> Response:
        check_access(request)
        if request.method == "DELETE":
            with state.lock:
                state.log.clear()
            return JSONResponse({"count": 0, "requests": []})
        with state.lock:
            items = [r.__dict__ for r in state.log]
        return JSONResponse({"count": len(items), "requests": items})

    async def set_faults(request: Request) -> Response:
        check_access(request)
        try:
            specs = parse_json(await request.body())["faults"]
            settings.faults.replace([str(s) for s in specs])
        except (ValueError, KeyError, TypeError) as exc:
            raise HTTPProblem(400, f'expected {{"faults": ["name[:N|:P%]", ...]}}: {exc}') from None
        return JSONResponse({"faults": settings.faults.describe()})

    return [
        Route("/_outeai/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/_outeai/faults", set_faults, methods=["PUT"]),
    ]
