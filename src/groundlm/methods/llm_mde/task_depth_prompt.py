"""LLM-MDE's adaptive prompt (docs/architecture.md, section 6.2): a text prefix written for each image from four
perspectives, the dataset, the task, the image's pixel statistics and a category (a scene type or a coarse depth class),
which the LM reads before the reprogrammed patches. The ``fixed`` prompt keeps the dataset and the task only (the same
text for every image); ``none`` is no prompt: the ablations of the paper."""

from __future__ import annotations

import numpy as np

from groundlm.methods.llm_mde.modeling_depth_lm import PROMPTS

TASK = "Task: estimate the distance from the camera of every pixel, in metres."


def pixel_statistics(image: np.ndarray) -> dict[str, float]:
    """Statistics of an RGB ``uint8`` image ``[H, W, 3]``, each in [0, 1]: brightness (the channel mean) minimum,
    maximum and median; the mean of each colour channel; and the mean absolute brightness gradient (horizontal and
    vertical neighbours)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {image.shape}")
    x = image.astype(np.float64) / 255.0
    gray = x.mean(2)
    gx = np.abs(np.diff(gray, axis=1)).mean() if gray.shape[1] > 1 else 0.0
    gy = np.abs(np.diff(gray, axis=0)).mean() if gray.shape[0] > 1 else 0.0
    return {
        "min": float(gray.min()),
        "max": float(gray.max()),
        "median": float(np.median(gray)),
        "red": float(x[..., 0].mean()),
        "green": float(x[..., 1].mean()),
        "blue": float(x[..., 2].mean()),
        "gradient": float((gx + gy) / 2),
    }


def depth_prompt(image: np.ndarray, dataset: str, category: str | None = None, kind: str = "adaptive") -> str:
    """The prompt of ``kind`` (one of :data:`PROMPTS`) for ``image`` (``[H, W, 3]`` ``uint8``) from ``dataset`` (a
    sentence describing it) with its ``category``; numbers with two decimals."""
    if kind not in PROMPTS:
        raise ValueError(f"the depth prompt must be one of {', '.join(PROMPTS)}, got {kind!r}")
    if kind == "none":
        return ""
    text = f"Dataset: {dataset} {TASK}"
    if kind == "fixed":
        return text
    s = pixel_statistics(image)
    stats = (
        f"Image statistics: brightness min {s['min']:.2f}, max {s['max']:.2f}, median {s['median']:.2f}; "
        f"colour red {s['red']:.2f}, green {s['green']:.2f}, blue {s['blue']:.2f}; gradient {s['gradient']:.2f}."
    )
    return f"{text} {stats}" + (f" Category: {category}." if category else "")
