from pathlib import Path

import numpy as np
import torch

from groundlm.inference.collate import Collator
from groundlm.models.vlm import GroundedVLM
from groundlm.tasks import build_task
from groundlm.train.batches import StepBatches, default_workers, step_loader
from groundlm.train.config import load_config
from groundlm.train.loop import train
from groundlm.train.stream import ExampleStream

from ..models.conftest import tiny_config
from .conftest import tiny_train_config


def _weights(run_dir):
    from safetensors.torch import load_file

    return load_file(str(Path(run_dir) / "final" / "model.safetensors"))


def _same(a, b) -> bool:
    if torch.is_tensor(a):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_batches_do_not_depend_on_the_number_of_workers(tiny_split):
    from groundlm import data

    stream = ExampleStream(data.load(f"spatialworld:{tiny_split / 'train'}"), [build_task("refer")], [1.0], seed=3)
    batches = StepBatches(stream, Collator.for_model(GroundedVLM(tiny_config())), 4, 2, max_steps=6, rank=1, world=2)
    alone = list(step_loader(batches, 0, workers=0))
    assert len(alone) == 6 and all(len(step) == 2 for step in alone)  # grad_accum micro-batches per step
    assert all(step[0]["input_ids"].shape[0] == 1 for step in alone)  # micro-batch 2 split over 2 ranks
    for workers in (1, 2):
        assert _same(list(step_loader(batches, 0, workers=workers)), alone)
    assert _same(list(step_loader(batches, 4, workers=2)), alone[4:])  # a resumed run starts at its step


def test_resumed_weights_do_not_depend_on_the_number_of_workers(tmp_path, tiny_split):
    straight = load_config(tiny_train_config(tmp_path / "a", tiny_split, workers=0))
    train(straight, progress=False)
    broken = load_config(tiny_train_config(tmp_path / "b", tiny_split, workers=2))
    assert train(broken, progress=False, stop_after=2) == {"interrupted_at": 2}
    summary = train(broken, resume=True, progress=False)
    assert summary["workers"] == 2 and summary["data_wait_seconds"] >= 0
    a, b = _weights(straight.run_dir), _weights(broken.run_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # Preloading the batches (the model step alone, for bench train) trains the same weights too.
    preloaded = load_config(tiny_train_config(tmp_path / "c", tiny_split, workers=0))
    train(preloaded, progress=False, preload=True)
    c = _weights(preloaded.run_dir)
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_default_workers_follow_the_core_count():
    assert [default_workers(n) for n in (1, 2, 3, 4, 8, 16, 64)] == [0, 0, 1, 1, 3, 7, 8]


def test_decoded_arrays_give_the_same_pixels_and_are_built_once(tmp_path, tiny_split):
    import shutil

    from groundlm import data
    from groundlm.data.decoded import DecodedImages
    from groundlm.inference.images import ImageCache
    from groundlm.train.batches import decoded_splits

    folder = tmp_path / "split"
    shutil.copytree(tiny_split / "train", folder)
    ds = data.load(f"spatialworld:{folder}")
    (split,) = decoded_splits([ds, ds])  # one array per distinct split
    built = list((folder / ".decoded").glob("*.npy"))
    assert len(built) == 1
    for sample in ds:
        assert np.array_equal(np.asarray(split.get(sample)), np.asarray(sample.load_image()))
    mtime = built[0].stat().st_mtime_ns
    DecodedImages.open(ds.samples, folder)
    assert built[0].stat().st_mtime_ns == mtime  # not decoded again
    cache = ImageCache(decoded=[split])
    assert cache.get(ds[0]).size == (ds[0].width, ds[0].height)
    other = data.load(f"spatialworld:{tiny_split / 'val'}")
    assert split.get(other[0]) is None  # not one of this split's samples
    # A changed image makes a new array.
    ds[0].load_image().transpose(0).save(ds[0].image_path)
    DecodedImages.open(ds.samples, folder)
    assert len(list((folder / ".decoded").glob("*.npy"))) == 2


def test_training_on_decoded_arrays_trains_the_same_weights(tmp_path, tiny_split):
    import shutil

    shutil.copytree(tiny_split, tmp_path / "sw")
    plain = load_config(tiny_train_config(tmp_path / "a", tmp_path / "sw", workers=0, eval_every=0))
    train(plain, progress=False)
    cached = tiny_train_config(tmp_path / "b", tmp_path / "sw", workers=1, decoded_cache=True, eval_every=0)
    cached = load_config(cached)
    train(cached, progress=False)
    assert list((tmp_path / "sw" / "train" / ".decoded").glob("*.npy"))
    a, b = _weights(plain.run_dir), _weights(cached.run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
