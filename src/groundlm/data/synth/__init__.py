"""SpatialWorld: procedurally generated scenes with exact boxes, head poses, depth, captions and referring
expressions (docs/architecture.md, section 4).

>>> from groundlm.data.synth import write_split
>>> write_split("runs/data/train", n=100, seed=0, domain="classic")  # doctest: +SKIP

One sample is :func:`groundlm.data.synth.generate.generate`; it is not re-exported here, because the package's
``generate`` attribute is that module. Names are imported on first use (:mod:`groundlm.lazy`), so that the tasks,
which read the language module alone, do not import the renderer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from groundlm.lazy import lazy_exports

if TYPE_CHECKING:
    from groundlm.data.synth.camera import Camera
    from groundlm.data.synth.generate import Generated
    from groundlm.data.synth.render import Rendering
    from groundlm.data.synth.scene import Scene, sample_scene
    from groundlm.data.synth.world import DOMAINS, SCENE_TYPES, Domain, SceneType, get_domain
    from groundlm.data.synth.writer import write_split

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "groundlm.data.synth.camera": ("Camera",),
        "groundlm.data.synth.generate": ("Generated",),
        "groundlm.data.synth.render": ("Rendering",),
        "groundlm.data.synth.scene": ("Scene", "sample_scene"),
        "groundlm.data.synth.world": ("DOMAINS", "SCENE_TYPES", "Domain", "SceneType", "get_domain"),
        "groundlm.data.synth.writer": ("write_split",),
    },
)

__all__ = [
    "DOMAINS",
    "SCENE_TYPES",
    "Camera",
    "Domain",
    "Generated",
    "Rendering",
    "Scene",
    "SceneType",
    "get_domain",
    "sample_scene",
    "write_split",
]
