"""Scene language for SpatialWorld: referring expressions, region captions, tags and localized narratives.

A referring expression is generated from a *program* and kept only if the program selects exactly one entity
of the scene with no borderline case. A program is a JSON-ready dict::

    {"noun": {"category": "cube", "color": "red", ...},        # attribute filter
     "superlative": "nearest" | "farthest" | "largest" | "smallest" | None,
     "relation": {"type": "left_of" | "right_of" | "in_front_of" | "behind", "landmark": <program>} | None}

Spatial words are about the picture and the camera: *left of* compares image x of the box centres (margin
``X_MARGIN`` of the image width), *in front of*/*behind* and *nearest*/*farthest* compare camera z-depth of the
3-D centres (margin ``Z_MARGIN`` metres), *largest*/*smallest* compare volumes (ratio ``SIZE_RATIO``). Entities
whose difference falls inside a margin make a relation ambiguous, and the expression is not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

X_MARGIN = 0.04  # share of the image width
Z_MARGIN = 0.25  # metres
SIZE_RATIO = 1.3
NOUN_KEYS = ("size", "color", "texture", "category")
NOUN_SUBSETS = (
    ("category",),
    ("color", "category"),
    ("size", "category"),
    ("texture", "category"),
    ("size", "color", "category"),
    ("color", "texture", "category"),
    ("size", "texture", "category"),
    ("size", "color", "texture", "category"),
)
RELATIONS = ("left_of", "right_of", "in_front_of", "behind")
SUPERLATIVES = ("nearest", "farthest", "largest", "smallest")


@dataclass(frozen=True)
class Entity:
    """What language may say about one labelled object or person."""

    index: int  # region index in the sample
    attributes: dict[str, str]  # category, color, size, texture (objects) or category, color (people: shirt)
    cx: float  # image x of the box centre, pixels
    z: float  # camera z-depth of the 3-D centre, metres
    volume: float  # m^3


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


def _matches(e: Entity, noun: dict[str, str]) -> bool:
    return all(e.attributes.get(k) == v for k, v in noun.items())


def _compare(kind: str, a: Entity, b: Entity, width: float) -> bool | None:
    """Whether ``a`` stands in relation ``kind`` to ``b``: True, False, or None inside the margin."""
    if kind in ("left_of", "right_of"):
        diff = (b.cx - a.cx) if kind == "left_of" else (a.cx - b.cx)
        margin = X_MARGIN * width
    else:
        diff = (b.z - a.z) if kind == "in_front_of" else (a.z - b.z)
        margin = Z_MARGIN
    if diff > margin:
        return True
    if diff < -margin:
        return False
    return None


def _superlative(kind: str, candidates: list[Entity]) -> tuple[Entity | None, bool]:
    """The extreme candidate and whether it is clear (beats the runner-up by the margin)."""
    if not candidates:
        return None, False
    if kind in ("nearest", "farthest"):
        sign = 1.0 if kind == "nearest" else -1.0
        order = sorted(candidates, key=lambda e: sign * e.z)
        clear = len(order) == 1 or abs(order[1].z - order[0].z) > Z_MARGIN
    else:
        order = sorted(candidates, key=lambda e: -e.volume if kind == "largest" else e.volume)
        a, b = (order[0].volume, order[1].volume) if len(order) > 1 else (1.0, 0.0)
        clear = len(order) == 1 or max(a, b) > SIZE_RATIO * min(a, b)
    return order[0], clear


def evaluate(program: dict[str, Any], entities: Sequence[Entity], width: float) -> tuple[list[int], bool]:
    """Indices of the entities the program selects, and whether any borderline case was met."""
    candidates = [e for e in entities if _matches(e, program["noun"])]
    ambiguous = False
    relation = program.get("relation")
    if relation:
        landmarks, amb = evaluate(relation["landmark"], entities, width)
        ambiguous |= amb
        if len(landmarks) != 1:
            return [], True
        lm = next(e for e in entities if e.index == landmarks[0])
        kept = []
        for e in candidates:
            if e.index == lm.index:
                continue
            verdict = _compare(relation["type"], e, lm, width)
            ambiguous |= verdict is None
            if verdict:
                kept.append(e)
        candidates = kept
    sup = program.get("superlative")
    if sup:
        best, clear = _superlative(sup, candidates)
        ambiguous |= not clear
        candidates = [best] if best is not None else []
    return [e.index for e in candidates], ambiguous


# ---------------------------------------------------------------------------------------------------------------
# Text


def noun_phrase(noun: dict[str, str]) -> str:
    if noun.get("category") == "person":
        return f"person in the {noun['color']} shirt" if "color" in noun else "person"
    words = [noun.get("size"), noun.get("color")]
    texture = noun.get("texture")
    words.append(None if texture in (None, "solid") else texture)
    words.append(noun["category"])
    if texture == "solid" and len([w for w in words if w]) == 1:
        words.insert(-1, "plain")
    return " ".join(w for w in words if w)


_RELATION_WORDS = {
    "left_of": ("left of", "to the left of"),
    "right_of": ("right of", "to the right of"),
    "in_front_of": ("in front of",),
    "behind": ("behind",),
}
_SUPERLATIVE_WORDS = {
    "nearest": ("nearest", "closest"),
    "farthest": ("farthest", "most distant"),
    "largest": ("largest", "biggest"),
    "smallest": ("smallest",),
}


def render_program(program: dict[str, Any], rng: np.random.Generator) -> str:
    noun = noun_phrase(program["noun"])
    sup = program.get("superlative")
    if sup:
        noun = f"{rng.choice(_SUPERLATIVE_WORDS[sup])} {noun}"
    text = f"the {noun}"
    rel = program.get("relation")
    if rel:
        text += f" {rng.choice(_RELATION_WORDS[rel['type']])} {render_program(rel['landmark'], rng)}"
    return text


# ---------------------------------------------------------------------------------------------------------------
# Generation


def _noun(e: Entity, keys: Sequence[str]) -> dict[str, str] | None:
    if not all(k in e.attributes for k in keys):
        return None
    return {k: e.attributes[k] for k in keys}


def _unique(program: dict[str, Any], target: Entity, entities: Sequence[Entity], width: float) -> bool:
    selected, ambiguous = evaluate(program, entities, width)
    return selected == [target.index] and not ambiguous


def candidate_programs(target: Entity, entities: Sequence[Entity], width: float) -> list[dict[str, Any]]:
    """Every program of our grammar (up to one relation) that singles out ``target`` unambiguously."""
    found = []
    simple_nouns = [n for keys in NOUN_SUBSETS[:2] if (n := _noun(target, keys))]
    for keys in NOUN_SUBSETS:
        noun = _noun(target, keys)
        if noun and noun not in [p["noun"] for p in found]:
            program = {"noun": noun, "superlative": None, "relation": None}
            if _unique(program, target, entities, width):
                found.append(program)
    for noun in simple_nouns:
        for sup in SUPERLATIVES:
            program = {"noun": noun, "superlative": sup, "relation": None}
            if _unique(program, target, entities, width):
                found.append(program)
    landmarks = []
    for other in entities:
        if other.index == target.index:
            continue
        for keys in NOUN_SUBSETS[:2]:
            noun = _noun(other, keys)
            lm = {"noun": noun, "superlative": None, "relation": None} if noun else None
            if lm and _unique(lm, other, entities, width):
                landmarks.append(lm)
                break
    for noun in simple_nouns:
        for lm in landmarks:
            for rel in RELATIONS:
                program = {"noun": noun, "superlative": None, "relation": {"type": rel, "landmark": lm}}
                if _unique(program, target, entities, width):
                    found.append(program)
    return found


def referring_expressions(
    entities: Sequence[Entity], width: float, rng: np.random.Generator, per_entity: int = 2
) -> list[tuple[int, str, dict[str, Any]]]:
    """Up to ``per_entity`` expressions per entity: the shortest attribute one, plus a spatial one if any."""
    out = []
    for target in entities:
        programs = candidate_programs(target, entities, width)
        if not programs:
            continue
        plain = [p for p in programs if not p["superlative"] and not p["relation"]]
        spatial = [p for p in programs if p["superlative"] or p["relation"]]
        chosen = []
        if plain:
            chosen.append(plain[0])
        if spatial:
            chosen.append(spatial[int(rng.integers(len(spatial)))])
        for program in chosen[:per_entity]:
            out.append((target.index, render_program(program, rng), program))
    return out


def _where(e: Entity, width: float) -> str:
    third = "on the left" if e.cx < width / 3 else "on the right" if e.cx > 2 * width / 3 else "in the middle"
    depth = "near the camera" if e.z < 2.0 else "far away" if e.z > 5.0 else ""
    return f"{third}, {depth}" if depth else third


def region_captions(e: Entity, width: float, facing: str | None, rng: np.random.Generator) -> list[str]:
    """Two or three varied captions of one entity."""
    a = e.attributes
    if a["category"] == "person":
        base = f"a person in a {a['color']} shirt"
        caps = [base, f"{base} {_where(e, width)}"]
        if facing:
            caps.append(f"a person {facing}")
        return caps
    full = noun_phrase({k: a[k] for k in NOUN_KEYS if k in a})
    caps = [f"a {full}", f"a {full} {_where(e, width)}"]
    article = "an" if a["color"][0] in "aeiou" else "a"
    texture = "" if a["texture"] == "solid" else f" with a {a['texture']} pattern"
    caps.append(f"{article} {a['color']} {a['category']}{texture}")
    rng.shuffle(caps)
    return caps


def region_tags(attributes: dict[str, str]) -> list[str]:
    cat = attributes["category"]
    if cat == "person":
        return ["person", f"{attributes['color']} shirt"]
    if cat == "head":
        return ["head", "face"]
    tags = [cat, attributes["color"], attributes["size"], "object"]
    if attributes.get("texture") not in (None, "solid"):
        tags.insert(3, attributes["texture"])
    return tags


WORD_SECONDS = 0.38
PAUSE_SECONDS = 0.4
TRACE_HZ = 10.0


def _scribble(xs: np.ndarray, ys: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A mouse-like loop over a region: an ellipse around the centroid, each point snapped to the nearest pixel
    centre of the region (so every point lies on it)."""
    turns = rng.uniform(1.0, 2.0)
    phase = rng.uniform(0, 2 * np.pi)
    angle = phase + np.linspace(0.0, 2 * np.pi * turns, n)
    cx, cy = xs.mean(), ys.mean()
    ax, ay = 1.1 * xs.std() + 0.5, 1.1 * ys.std() + 0.5
    tx, ty = cx + ax * np.cos(angle), cy + ay * np.sin(angle)
    nearest = np.argmin((xs[None, :] - tx[:, None]) ** 2 + (ys[None, :] - ty[:, None]) ** 2, axis=1)
    return xs[nearest], ys[nearest]


def narrative(
    entities: Sequence[Entity],
    masks: dict[int, np.ndarray],
    scene_type: str,
    width: int,
    height: int,
    rng: np.random.Generator,
) -> list[tuple[str, float, float, list[tuple[float, float, float]], int]]:
    """Utterances left to right with timings and a mouse trace over each described entity.

    ``masks`` maps an entity's region index to its visible pixels ``[H, W]`` bool. Trace points are pixel centres
    of that mask, normalised by the image size, ordered around the mask's centroid.
    """
    order = sorted(entities, key=lambda e: e.cx)
    out = []
    t = 0.5
    prev: Entity | None = None
    for i, e in enumerate(order):
        caption = region_captions(e, width, None, rng)[0]
        if i == 0:
            text = f"In this {scene_type} there is {caption}"
        elif prev is not None and e.z > prev.z + Z_MARGIN * 4:
            text = f"behind it {caption}"
        else:
            text = f"{rng.choice(['next to it', 'to its right', 'and'])} {caption}"
        duration = WORD_SECONDS * len(text.split())
        ys, xs = np.nonzero(masks[e.index])
        n_points = max(2, int(duration * TRACE_HZ))
        px, py = _scribble(xs + 0.5, ys + 0.5, n_points, rng)
        start, end = round(t, 3), round(t + duration, 3)
        times = np.clip(np.round(np.linspace(start, end, n_points), 3), start, end)
        trace = [
            (round(float(x / width), 5), round(float(y / height), 5), float(tt)) for x, y, tt in zip(px, py, times)
        ]
        out.append((text, start, end, trace, e.index))
        t += duration + PAUSE_SECONDS
        prev = e
    return out
