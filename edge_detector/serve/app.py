"""The FastAPI application: state, lifespan (database, recovery, workers), auth, errors, assets.

Every error leaves as ``{"error": "one message"}`` with its HTTP status; the page and the API
docs are served from files in the package (no CDN), so the server works offline.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import SinkError
from ..version import __version__
from ..zoo import shipped_models
from .db import JobStore
from .jobs import WorkerPool
from .settings import Settings
from .worker import remove_job_files

log = logging.getLogger(__name__)
TOKEN_COOKIE = "edge_detect_token"
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'")


@dataclass
class ServerState:
    """What the routes share: settings, the store, the models offered and the live counters."""

    settings: Settings
    store: JobStore
    models: dict[str, Path]
    model_cards: dict[str, dict] = field(default_factory=dict)
    pool: WorkerPool | None = None
    uploads: int = 0  # streaming right now
    streams: int = 0  # open event streams


def offered_models(settings: Settings) -> tuple[dict[str, Path], dict[str, dict]]:
    """The picker's models: the settings' own, else the shipped ones (default first)."""
    if settings.models:
        return dict(settings.models), {}
    shipped = shipped_models()
    if not shipped:
        raise SinkError("no shipped model found in this installation")
    return {m.name: m.path for m in shipped}, {m.name: m.card for m in shipped}


def static_dir() -> Path:
    return Path(str(resources.files("edge_detector.serve") / "static"))


def swagger_dir() -> Path | None:
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


def token_ok(settings: Settings, request: Request) -> bool:
    """Bearer header (API clients) or the page's cookie, compared in constant time."""
    if not settings.token:
        return True
    auth = request.headers.get("authorization", "")
    given = auth[7:] if auth[:7].lower() == "bearer " else unquote(request.cookies.get(TOKEN_COOKIE, ""))
    return hmac.compare_digest(given.encode("utf-8"), settings.token.encode("utf-8"))


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(settings: Settings, start_workers: bool = True) -> FastAPI:
    """The app for ``settings``; ``start_workers=False`` serves the API without analysing (tests)."""
    store = JobStore(settings.db_path)
    models, cards = offered_models(settings)
    state = ServerState(settings, store, models, cards)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        store.migrate()
        requeued, failed = store.recover()
        for job_id in failed:
            remove_job_files(settings.jobs_dir, job_id)
        _remove_orphans(settings, store)
        if requeued or failed:
            log.warning("restart: %d interrupted job(s) re-queued, %d failed", len(requeued), len(failed))
        if start_workers:
            state.pool = WorkerPool(settings, models, store).start()
        try:
            yield
        finally:
            if state.pool is not None:
                state.pool.stop()

    app = FastAPI(title="edge-detect", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Face-forgery detection on uploaded videos and images. Upload with "
                              "POST /api/jobs, follow GET /api/jobs/{id}/events, read the result.")
    app.state.server = state

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if path.startswith("/api/") and not token_ok(settings, request):
            return error(401, "missing or wrong token (send 'Authorization: Bearer TOKEN')",
                         {"WWW-Authenticate": "Bearer"})
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if path == "/" or path.startswith("/static/"):
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error(exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "path", "body"))
        return error(422, f"{where or 'request'}: {first.get('msg', 'invalid value')}")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        log.error("internal error on %s", request.url.path, exc_info=exc)
        return error(500, f"internal error ({type(exc).__name__})")

    from .api import router

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    swagger = swagger_dir()
    if swagger is not None:
        app.mount("/docs-assets", StaticFiles(directory=swagger), name="docs-assets")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(static_dir() / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        if swagger is None:
            return error(404, "API docs need the swagger-ui-bundle-v2 package (the serve extra); "
                              "the schema is at /openapi.json")
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="edge-detect API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png")

    return app


def _remove_orphans(settings: Settings, store: JobStore) -> None:
    """Job folders with no record (an upload cut off by a crash) are removed at start."""
    for folder in settings.jobs_dir.iterdir():
        if folder.is_dir() and store.get(folder.name) is None:
            shutil.rmtree(folder, ignore_errors=True)
