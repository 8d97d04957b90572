"""Counts and label statistics of a dataset (``groundlm data info``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from groundlm.data.dataset import SampleDataset


def dataset_info(ds: SampleDataset) -> dict[str, Any]:
    """Sample, region, expression, head and narrative counts; category, scene and domain histograms; pose ranges."""
    categories: Counter = Counter()
    scenes: Counter = Counter()
    domains: Counter = Counter()
    sizes: Counter = Counter()
    visible, yaw, pitch, roll = [], [], [], []
    n_ref = n_heads = n_utt = n_caps = 0
    for s in ds:
        sizes[f"{s.width}x{s.height}"] += 1
        scenes[s.scene_type or "-"] += 1
        domains[s.domain or "-"] += 1
        n_ref += len(s.referring)
        n_heads += len(s.heads)
        n_utt += len(s.narrative)
        n_caps += len(s.captions) + sum(len(r.captions) for r in s.regions)
        for r in s.regions:
            categories[r.category] += 1
            if r.visible_fraction is not None:
                visible.append(r.visible_fraction)
        for h in s.heads:
            yaw.append(h.yaw)
            pitch.append(h.pitch)
            roll.append(h.roll)

    def span(v: list[float]) -> list[float] | None:
        return [round(float(np.min(v)), 2), round(float(np.max(v)), 2)] if v else None

    return {
        "name": ds.name,
        "samples": len(ds),
        "regions": sum(categories.values()),
        "referring_expressions": n_ref,
        "heads": n_heads,
        "captions": n_caps,
        "narrative_utterances": n_utt,
        "categories": dict(categories.most_common()),
        "scene_types": dict(scenes.most_common()),
        "domains": dict(domains.most_common()),
        "image_sizes": dict(sizes.most_common(5)),
        "mean_visible_fraction": round(float(np.mean(visible)), 4) if visible else None,
        "yaw_range": span(yaw),
        "pitch_range": span(pitch),
        "roll_range": span(roll),
    }


def format_info(info: dict[str, Any]) -> str:
    lines = [f"{info['name']}"]
    for key, value in info.items():
        if key == "name":
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        lines.append(f"  {key.replace('_', ' '):24s} {value if value is not None else '-'}")
    return "\n".join(lines)
