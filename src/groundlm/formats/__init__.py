"""Text codecs for spatial outputs, one module per model family, and their registry.

>>> from groundlm import formats
>>> codec = formats.get("cogvlm")
>>> codec.render_boxes([(10, 20, 110, 220)], width=200, height=400)
'[[050,050,550,550]]'
>>> codec.parse("[[050,050,550,550]]", 200, 400).boxes
((10.0, 20.0, 110.0, 220.0),)
"""

from __future__ import annotations

from groundlm.formats.base import (
    ERROR_KINDS,
    MULTI_BOX_POLICIES,
    Codec,
    MultiBoxPolicy,
    ParseResult,
    select_box,
)
from groundlm.formats.cogvlm import CogVLMCodec
from groundlm.formats.ferret import FerretCodec
from groundlm.formats.florence2 import Florence2Codec
from groundlm.formats.kosmos2 import Kosmos2Codec
from groundlm.formats.paligemma import PaliGemmaCodec
from groundlm.formats.pose import BLENDED_ERRORS, PoseCodec, render_pose
from groundlm.formats.qwen import QwenCodec
from groundlm.formats.qwen2vl import Qwen2VLCodec, Qwen25VLCodec
from groundlm.formats.shikra import ShikraCodec
from groundlm.registry import Registry

FORMATS: Registry[type[Codec]] = Registry(
    "format",
    {
        cls.name: cls
        for cls in (
            CogVLMCodec,
            QwenCodec,
            Qwen2VLCodec,
            Qwen25VLCodec,
            Florence2Codec,
            Kosmos2Codec,
            ShikraCodec,
            FerretCodec,
            PaliGemmaCodec,
            PoseCodec,
        )
    },
)


def names() -> list[str]:
    """Registered format names."""
    return list(FORMATS)


def get(name: str, **options: object) -> Codec:
    """A codec by name, e.g. ``get("qwen", divisor=1000)``; unknown names list the known ones. A name may carry
    numeric options after a colon, ``"qwen25vl:max_pixels=1003520"``, so that a configured codec travels as a
    string (``tasks.json``, a task's ``format`` option)."""
    base, _, spec = name.partition(":")
    cls = FORMATS.get_known(base)
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        try:
            options.setdefault(key.strip(), float(value) if "." in value else int(value))
        except ValueError:
            raise ValueError(f"format {name!r}: options are key=number, got {item!r}") from None
    try:
        return cls(**options)  # type: ignore[arg-type]
    except TypeError as e:
        raise ValueError(f"format {name!r}: {e}") from None


__all__ = [
    "BLENDED_ERRORS",
    "ERROR_KINDS",
    "FORMATS",
    "MULTI_BOX_POLICIES",
    "Codec",
    "MultiBoxPolicy",
    "ParseResult",
    "get",
    "names",
    "render_pose",
    "select_box",
]
