"""The HTTP application: JSON endpoints per task, the web page, health and built-in samples.

Routes (``/docs`` has the OpenAPI page):

- ``GET /`` the web page; ``GET /static/{app.js,style.css}`` its script and style.
- ``GET /health`` model, device, tasks and batching counters.
- ``GET /api/tasks`` what each task takes and gives; ``GET /api/samples`` and ``GET /api/samples/{name}`` the
  built-in pictures (PNG).
- ``POST /api/{task}`` one query: ``multipart/form-data`` (``image`` file, ``query``, ``box`` as "x0 y0 x1 y1",
  ``constrain``, ``numeric``, ``samples``) or JSON (the same keys, ``image`` as base64, ``box`` as a list). The
  answer: ``text`` (the raw model text), ``box`` and ``boxes`` in pixels ``(x0, y0, x1, y1)``, ``pose`` in degrees
  (yaw, pitch, roll; docs/architecture.md, section 3) with ``axes`` (where the head's x, y, z axes end, pixels), and the
  sampled ``texts`` under numeric decoding.

Every refused request gets a 4xx and ``{"error": "..."}``. Request bodies are read into memory up to a limit
(:class:`BodyLimit`); nothing a request names is looked up on the file system.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from groundlm.data.show import pose_axis_ends
from groundlm.formats.numeric import NUMERIC_MODES, NumericDecoding
from groundlm.inference.predict import Query
from groundlm.serve.batcher import MicroBatcher
from groundlm.serve.samples import BuiltInSample, built_in_samples
from groundlm.serve.service import ModelService
from groundlm.serve.uploads import BadRequestError, UploadLimits, check_box, decode_base64, parse_box_text, read_image

log = logging.getLogger("groundlm.serve")

MAX_QUERY_CHARS = 500
MAX_SAMPLES = 64  # numeric decoding's answers per query: bounded, so one request cannot hold the model for long
PAGE_FILES = {"app.js": "text/javascript", "style.css": "text/css"}


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 before the application reads it. The body
    is buffered in memory (bounded by the limit) and replayed to the application."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _refuse(send, f"the request body is over the limit of {self.max_bytes} bytes", 413)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(send, f"the request body is over the limit of {self.max_bytes} bytes", 413)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(send: Send, message: str, status: int) -> None:
    payload = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def create_app(
    service: ModelService,
    limits: UploadLimits | None = None,
    max_batch: int = 8,
    wait_ms: float = 10.0,
    samples: dict[str, BuiltInSample] | None = None,
) -> FastAPI:
    """The application around ``service``: requests gathered into batches of at most ``max_batch``, waiting at most
    ``wait_ms`` milliseconds for company; ``samples`` default to :func:`built_in_samples`."""
    limits = limits or UploadLimits()
    batcher = MicroBatcher(service.run, max_batch=max_batch, wait_s=wait_ms / 1000)
    pictures = built_in_samples() if samples is None else samples
    page = {name: resources.files("groundlm.serve").joinpath("page", name).read_bytes() for name in PAGE_FILES}
    index = resources.files("groundlm.serve").joinpath("page", "index.html").read_text()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(
        title="groundlm",
        summary="Spatial answers from a groundlm model: boxes in pixels, angles in degrees.",
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.state.service = service
    # Multipart framing and the other fields ride on top of the image itself.
    app.add_middleware(BodyLimit, max_bytes=limits.max_bytes + 64 * 1024)

    @app.exception_handler(BadRequestError)
    async def bad_request(_: Request, err: BadRequestError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in err.errors())
        return JSONResponse({"error": f"invalid request ({where})"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.exception_handler(Exception)
    async def crashed(_: Request, err: Exception) -> JSONResponse:
        log.exception("request failed")
        return JSONResponse({"error": f"internal error: {type(err).__name__}: {err}"}, status_code=500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> HTMLResponse:
        return HTMLResponse(index)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in page:
            raise BadRequestError(f"no static file {name!r}", 404)
        return Response(page[name], media_type=PAGE_FILES[name])

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness, the model and how batching has gone so far."""
        return {
            "status": "ok",
            "model": service.name,
            "device": str(service.device),
            "tasks": list(service.tasks),
            "batching": {"max_batch": max_batch, "wait_ms": wait_ms, **asdict(batcher.stats)},
        }

    @app.get("/api/tasks")
    async def tasks() -> list[dict[str, Any]]:
        """The tasks this model answers: what each needs (``query`` text or a pixel ``box``) and gives."""
        return [asdict(spec) for spec in service.tasks.values()]

    @app.get("/api/samples")
    async def sample_list() -> list[dict[str, Any]]:
        """The built-in pictures, with referring expressions and names of people to try."""
        return [s.describe() for s in pictures.values()]

    @app.get("/api/samples/{name}", response_class=Response)
    async def sample_image(name: str) -> Response:
        """A built-in picture as PNG."""
        if name not in pictures:
            raise BadRequestError(f"no built-in sample {name!r}; there are {', '.join(pictures)}", 404)
        return Response(pictures[name].png, media_type="image/png")

    @app.post("/api/{task}")
    async def ask(task: str, request: Request) -> dict[str, Any]:
        """Answer one query about one image (multipart upload or JSON with base64; see the module's docs)."""
        spec = service.spec(task)  # an unknown task is refused before its body is read
        fields = await _read_fields(request, limits)
        image = fields["image"]
        if spec.needs == "box":
            query = Query(image, task, None, check_box(fields["box"], *image.size))
        elif spec.needs == "image":
            query = Query(image, task, None)
        else:
            query = Query(image, task, fields["query"])
        options = service.options(task, fields["constrain"], fields["numeric"])
        service.check(query, options)
        start = time.perf_counter()
        result = await batcher.submit(options, query)
        return {
            **result,
            "axes": _axes(result),
            "model": service.name,
            "image": {"width": image.size[0], "height": image.size[1]},
            "elapsed_ms": round(1000 * (time.perf_counter() - start), 1),
        }

    return app


async def _read_fields(request: Request, limits: UploadLimits) -> dict[str, Any]:
    """The request's fields, checked: ``image`` (RGB), ``query``, ``box`` (unchecked list), ``constrain``,
    ``numeric`` (:class:`NumericDecoding`)."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=16)
        except Exception as err:  # malformed multipart framing
            raise BadRequestError(f"the multipart body could not be read ({err})") from None
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise BadRequestError("the form needs an image file in the field 'image'")
        data = await upload.read()
        raw: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        raw["box"] = parse_box_text(raw.get("box"))
    elif kind.startswith("application/json"):
        try:
            raw = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BadRequestError(f"the body is not valid JSON ({err})") from None
        if not isinstance(raw, dict):
            raise BadRequestError("the JSON body must be an object")
        if not isinstance(raw.get("image"), str):
            raise BadRequestError("the JSON body needs 'image': the image file as base64 text")
        data = decode_base64(raw["image"], limits)
    else:
        raise BadRequestError("send multipart/form-data (an 'image' file) or application/json (base64 'image')", 415)
    query = raw.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > MAX_QUERY_CHARS):
        raise BadRequestError(f"the query must be text of at most {MAX_QUERY_CHARS} characters", 422)
    return {
        "image": read_image(data, limits),
        "query": query.strip() if isinstance(query, str) else None,
        "box": raw.get("box"),
        "constrain": _flag(raw.get("constrain", False), "constrain"),
        "numeric": _numeric(raw.get("numeric", "greedy"), raw.get("samples", 16)),
    }


def _axes(result: dict[str, Any]) -> list[list[float]] | None:
    """For a pose answer, the image points (pixels) where the head's x, y, z axes end, drawn from the box centre
    with the box's width as length (what the page draws)."""
    pose, box = result.get("pose"), result.get("box")
    if not pose or box is None:
        return None
    x0, y0, x1, y1 = box
    ends = pose_axis_ends(((x0 + x1) / 2, (y0 + y1) / 2), pose["yaw"], pose["pitch"], pose["roll"], max(x1 - x0, 12))
    return [[round(x, 2), round(y, 2)] for x, y in ends]


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off", ""):
        return value.lower() in ("true", "1", "yes", "on")
    raise BadRequestError(f"{name} must be true or false, got {value!r}", 422)


def _numeric(mode: Any, samples: Any) -> NumericDecoding:
    if mode not in NUMERIC_MODES:
        raise BadRequestError(f"numeric must be one of {', '.join(NUMERIC_MODES)}, got {mode!r}", 422)
    try:
        k = int(samples)
    except (TypeError, ValueError):
        raise BadRequestError(f"samples must be a whole number, got {samples!r}", 422) from None
    if not 1 <= k <= MAX_SAMPLES:
        raise BadRequestError(f"samples must be between 1 and {MAX_SAMPLES}, got {k}", 422)
    return NumericDecoding(mode, k)
