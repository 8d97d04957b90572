"""Running the application: ``groundlm serve`` in the foreground (uvicorn), and :func:`running_server`, a server on
a background thread for tests and ``groundlm bench serve``."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from groundlm.errors import UserError
from groundlm.serve.app import create_app
from groundlm.serve.service import ModelService
from groundlm.serve.uploads import UploadLimits


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port); ``UserError`` when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family = infos[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(infos[0][4])
    except OSError as err:
        raise UserError(f"cannot listen on {host}:{port} ({err.strerror or err})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    checkpoint: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str | None = None,
    max_batch: int = 8,
    wait_ms: float = 10.0,
    max_upload_mb: float = 8.0,
) -> str:
    """Serve the model in ``checkpoint`` until interrupted. Uploads are decoded in memory; the server's temporary
    files (multipart spooling) go to a folder of its own, removed on exit."""
    if max_batch < 1 or wait_ms < 0 or max_upload_mb <= 0:
        raise UserError("serve needs --max-batch >= 1, --wait-ms >= 0 and --max-upload-mb > 0")
    if not 0 <= port <= 65535:
        raise UserError(f"--port must be 0..65535, got {port}")
    sock = _bind(host, port)
    service = ModelService.from_checkpoint(checkpoint, device)
    limits = UploadLimits(max_bytes=int(max_upload_mb * 1024 * 1024))
    app = create_app(service, limits, max_batch=max_batch, wait_ms=wait_ms)
    own_temp = tempfile.mkdtemp(prefix="groundlm-serve-")
    previous, tempfile.tempdir = tempfile.tempdir, own_temp
    try:
        bound = sock.getsockname()
        print(f"groundlm serve: {service.name} on http://{host}:{bound[1]}/ (API at /docs); Ctrl-C stops", flush=True)
        uvicorn.Server(uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=5)).run(sockets=[sock])
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(own_temp, ignore_errors=True)
        sock.close()
    return "groundlm serve: stopped"


@contextlib.contextmanager
def running_server(app: FastAPI, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 60.0) -> Iterator[str]:
    """Serve ``app`` on a background thread; yields its base URL (``http://host:port``) once it accepts requests,
    and stops it on exit."""
    sock = _bind(host, port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="groundlm-serve")
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()
