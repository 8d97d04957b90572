"""Training configuration: typed dataclasses read from YAML, with ``--set a.b=value`` overrides."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from groundlm.backends.base import BackendOptions
from groundlm.data.dataset import Uri
from groundlm.errors import UserError
from groundlm.formats.numeric import NumericDecoding
from groundlm.models.config import VisionConfig, VLMConfig
from groundlm.models.lora import LoraSpec


@dataclass
class SplitSpec:
    """A dataset URI; if it is a SpatialWorld folder that does not exist yet and ``generate`` is set, it is
    generated first with those ``groundlm data make`` arguments (n, seed, size, domain, scene_type)."""

    uri: str
    generate: dict[str, Any] | None = None

    @property
    def path(self) -> Path:
        """The folder of a SpatialWorld URI (``spatialworld:DIR`` or ``DIR``)."""
        return Uri.parse(self.uri).path if self.uri.startswith("spatialworld:") else Path(self.uri)

    @property
    def missing(self) -> bool:
        """True when the split is to be generated and its folder holds no split yet, or one generated before its
        domain's definition changed (it is then generated anew)."""
        if self.generate is None:
            return False
        from groundlm.data.synth.writer import is_current_split

        return not is_current_split(self.path, self.generate.get("domain", "classic"))

    def load(self, progress: bool = False):
        """The split as a dataset, generated first if it is missing (``progress`` says so on stdout)."""
        from groundlm import data

        if self.missing:
            if progress:
                print(f"generating {self.uri}", flush=True)
            self.make()
        return data.load(self.uri)

    def make(self) -> None:
        """Generate the split (``groundlm data make`` with the ``generate`` arguments) if it is missing."""
        if self.missing:
            from groundlm.data.synth.writer import write_split

            write_split(self.path, **self.generate)


@dataclass
class TaskSpec:
    """A task in the training mixture. ``data`` (optional) trains this task on its own split instead of ``train``,
    and ``val`` evaluates it on its own split instead of ``val``."""

    name: str
    weight: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)
    data: SplitSpec | None = None
    val: SplitSpec | None = None


@dataclass
class TrainConfig:
    run_dir: str
    train: SplitSpec
    val: SplitSpec | None = None
    tasks: list[TaskSpec] = field(default_factory=lambda: [TaskSpec("refer")])
    model: VLMConfig = field(default_factory=VLMConfig)
    init_from: str | None = None  # a model directory to start from instead of fresh weights
    # A transformers VLM directory (LLaVA, Qwen2-VL, Qwen2.5-VL, PaliGemma) to tune instead of groundlm's own model
    # (``model`` is then unused), loaded as ``backend`` says (dtype, device map, gradient checkpointing, box format).
    base_model: str | None = None
    backend: BackendOptions = field(default_factory=BackendOptions)
    # When model.vision.path names a tower directory that does not exist yet, pretrain it first with this
    # groundlm.pretrain preset (e.g. "quick"); None leaves a missing path an error.
    tower_preset: str | None = None
    lora: LoraSpec | None = None
    seed: int = 0
    batch_size: int = 32  # global, over all processes and accumulation steps
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.05  # share of max_steps
    grad_clip: float = 1.0
    max_steps: int = 1000
    eval_every: int = 250
    eval_items: int = 200
    save_every: int = 250
    max_new_tokens: int = 24
    num_beams: int = 1
    numeric: NumericDecoding = field(default_factory=NumericDecoding)  # how numbers in answers are decoded
    # Weights of the model's named losses (lm, and one per head with targets); a loss not named weighs 1.
    loss_weights: dict[str, float] = field(default_factory=lambda: {"lm": 1.0})
    precision: str = "auto"  # auto (bf16 on GPU, fp32 on CPU) | fp32 | bf16
    tensorboard: bool = False
    threads: int | None = None  # torch CPU threads; None leaves torch's default
    # Processes that build the training batches (decode, resize, tokenise, collate); None: from the core count
    # (groundlm.train.batches.default_workers). The batches are the same whatever the number.
    workers: int | None = None
    # Read training images from a decoded uint8 array per split (groundlm.data.decoded, built once) instead of
    # decoding their files.
    decoded_cache: bool = False
    device: str | None = None  # "cpu" trains on the CPU even where CUDA is present; None: CUDA when present

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _split(value: Any, where: str) -> SplitSpec:
    return typed(SplitSpec, value if isinstance(value, dict) else {"uri": value}, where)


def typed(cls, data: Any, where: str):
    """The dataclass ``cls`` from YAML data, nested configs typed by field name (``train``/``val``/``data``:
    split specs, one or a list; ``tasks``; ``model``; ``vision``; ``lora``; ``backend``); a wrong field is a
    :class:`UserError` that names ``where``."""
    if cls is VLMConfig:
        return VLMConfig.from_dict(data or {})
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping, got {data!r}")
    known = {f.name: f for f in fields(cls)}
    unknown = {str(k) for k in data} - set(known)
    if unknown:
        hint = " (YAML reads a bare on/off/yes/no key as a boolean; quote it)" if "True" in unknown else ""
        raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}{hint}")
    out = {}
    for name, value in data.items():
        if name in ("train", "val", "data") and cls is not SplitSpec:
            if value is None:
                pass
            elif isinstance(value, list):
                value = [_split(v, f"{where}.{name}") for v in value]
            else:
                value = _split(value, f"{where}.{name}")
        elif name == "tasks":
            value = [typed(TaskSpec, t if isinstance(t, dict) else {"name": t}, f"{where}.tasks") for t in value]
        elif name == "model":
            try:
                value = VLMConfig.from_dict(value or {})
            except (ValueError, TypeError) as e:
                raise UserError(f"{where}.model: {e}") from None
        elif name == "vision":
            try:
                value = VisionConfig.from_dict(value or {})
            except (ValueError, TypeError) as e:
                raise UserError(f"{where}.vision: {e}") from None
        elif name == "numeric":
            value = typed(NumericDecoding, value if isinstance(value, dict) else {"mode": value}, f"{where}.numeric")
        elif name == "loss_weights":
            if not isinstance(value, dict):
                raise UserError(f"{where}.loss_weights: expected a mapping of loss name to weight, got {value!r}")
            value = {str(k): _number(v, "float", f"{where}.loss_weights.{k}") for k, v in value.items()}
        elif name == "backend":
            value = typed(BackendOptions, value or {}, f"{where}.backend")
        elif name == "lora":
            value = None if value is None else typed(LoraSpec, value, f"{where}.lora")
        elif isinstance(value, list):
            value = tuple(value)
        else:
            value = _number(value, str(known[name].type), f"{where}.{name}")
        out[name] = value
    try:
        return cls(**out)
    except (TypeError, ValueError) as e:
        raise UserError(f"{where}: {e}") from None


def _number(value: Any, annotation: str, where: str) -> Any:
    """``value`` as the number a field is declared as. YAML reads ``3e-4`` (no dot) as a string, and a user
    writes ``1`` for a float; other values pass unchanged for the dataclass to take."""
    kinds = {part.strip() for part in annotation.split("|")}
    if "float" in kinds and (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
        try:
            return float(value)
        except ValueError:
            raise UserError(f"{where}: expected a number, got {value!r}") from None
    if "int" in kinds and "float" not in kinds and not isinstance(value, bool) and isinstance(value, (str, float)):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not number.is_integer():
            raise UserError(f"{where}: expected an integer, got {value!r}")
        return int(number)
    return value


def _set(tree: dict[str, Any], dotted: str, raw: str) -> None:
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise UserError(f"--set {dotted}: {k!r} is not a mapping")
    node[keys[-1]] = yaml.safe_load(raw)


def read_yaml(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    """A YAML config file as a tree, with ``key.sub=value`` overrides applied (values parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such config file")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({e})") from None
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        _set(tree, key.strip(), raw)
    return tree


def load_config(path: str | Path, overrides: list[str] = ()) -> TrainConfig:
    """Read a training config (YAML) and apply ``key.sub=value`` overrides (values parsed as YAML)."""
    tree = read_yaml(path, overrides)
    path = Path(path)
    if "run_dir" not in tree or "train" not in tree:
        raise UserError(f"{path}: a config needs at least 'run_dir' and 'train'")
    return typed(TrainConfig, tree, path.name)
