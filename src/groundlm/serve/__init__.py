"""``groundlm serve``: an HTTP API and a web page in front of one model (docs/serve.md).

:mod:`~groundlm.serve.uploads` checks what requests carry, :mod:`~groundlm.serve.batcher` gathers concurrent
requests into batches, :mod:`~groundlm.serve.service` holds the model and answers batches,
:mod:`~groundlm.serve.app` is the application and :mod:`~groundlm.serve.server` runs it."""

from groundlm.serve.app import create_app
from groundlm.serve.batcher import MicroBatcher
from groundlm.serve.server import running_server, serve
from groundlm.serve.service import ModelService
from groundlm.serve.uploads import BadRequestError, UploadLimits

__all__ = ["BadRequestError", "MicroBatcher", "ModelService", "UploadLimits", "create_app", "running_server", "serve"]
