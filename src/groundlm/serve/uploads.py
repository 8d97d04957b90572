"""Checking what a request carries before the model sees it: image bytes (size, format, dimensions, decodability),
base64 text, boxes and numbers. Every failure is a :class:`BadRequestError` with the HTTP status and a sentence saying
what was wrong; nothing here touches the file system (images are decoded from memory)."""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from groundlm.geometry.boxes import prompt_box


class BadRequestError(ValueError):
    """A request the server refuses: ``status`` is the HTTP status (400, 404, 413, 415, 422)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UploadLimits:
    """``max_bytes``: the largest accepted upload (the encoded file); ``max_side`` / ``max_pixels``: the largest
    image, checked from the header before any pixel is decoded; ``formats``: the image formats accepted (PIL names).
    """

    max_bytes: int = 8 * 1024 * 1024
    max_side: int = 4096
    max_pixels: int = 16_000_000
    formats: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "GIF")


def decode_base64(text: str, limits: UploadLimits) -> bytes:
    """Bytes of a base64 string, with or without a ``data:image/...;base64,`` prefix."""
    if "," in text[:64] and text.lstrip().startswith("data:"):
        text = text.split(",", 1)[1]
    if len(text) > limits.max_bytes * 4 // 3 + 4:
        raise BadRequestError(f"the image is larger than the limit of {limits.max_bytes} bytes", 413)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadRequestError(f"the image is not valid base64 ({err})") from None


def read_image(data: bytes, limits: UploadLimits) -> Image.Image:
    """The RGB image encoded in ``data``. Refuses (``BadRequestError``) an empty or oversized upload (413), bytes
    that are not an image in an accepted format (415), and images with absurd dimensions (400), checked before
    decoding."""
    if not data:
        raise BadRequestError("the upload is empty", 400)
    if len(data) > limits.max_bytes:
        raise BadRequestError(f"the image is {len(data)} bytes, over the limit of {limits.max_bytes}", 413)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked just below
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as err:
        raise BadRequestError(f"the image is too large to decode ({err})") from None
    except Exception:
        raise BadRequestError(
            f"the upload is not an image in a known format ({', '.join(limits.formats)})", 415
        ) from None
    if image.format not in limits.formats:
        raise BadRequestError(f"{image.format} images are not accepted; send one of {', '.join(limits.formats)}", 415)
    w, h = image.size
    if w < 1 or h < 1 or w > limits.max_side or h > limits.max_side or w * h > limits.max_pixels:
        raise BadRequestError(
            f"the image is {w}x{h} pixels; each side must be 1..{limits.max_side} and the area at most "
            f"{limits.max_pixels} pixels"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            return image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise BadRequestError(f"the image is too large to decode ({err})") from None
    except Exception as err:
        raise BadRequestError(f"the image could not be decoded ({type(err).__name__}: {err})", 415) from None


def check_box(box: Sequence[object] | None, width: int, height: int) -> tuple[float, float, float, float]:
    """A pixel box ``(x0, y0, x1, y1)`` that lies inside a ``width`` x ``height`` image with ``x0 < x1`` and
    ``y0 < y1`` (:func:`groundlm.geometry.boxes.prompt_box`); anything else is a ``BadRequestError``."""
    if box is None:
        raise BadRequestError("this task needs a box: four pixel numbers x0 y0 x1 y1")
    try:
        return prompt_box(box, width, height)
    except ValueError as err:
        raise BadRequestError(str(err)) from None


def parse_box_text(text: str | None) -> list[str] | None:
    """A box given in a form field, as four numbers separated by spaces or commas (``None`` for an empty field)."""
    if text is None or not text.strip():
        return None
    return text.replace(",", " ").split()
