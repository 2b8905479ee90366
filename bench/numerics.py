"""Does the trained model depend on the machine? Train the same inputs twice, the second time with
TensorFlow's oneDNN kernels capped at AVX2 (as on a machine without AVX-512), and compare DIET's
weights. Run with the project's numerics (bot/numerics.py) and, with ``--onednn``, with oneDNN on as
TensorFlow ships it.

    python bench/numerics.py [--onednn]

Each run trains twice in full in a temporary copy of the inputs (~15 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.model import TRAINING_DATA, rasa_env, train_command  # noqa: E402

INPUTS = ("config.yml", "domain.yml", "bot", *TRAINING_DATA)


def _copy_inputs(dest: Path) -> None:
    for entry in INPUTS:
        source = ROOT / entry
        if source.is_dir():
            shutil.copytree(source, dest / entry, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / entry).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / entry)


def _train(work: Path, name: str, extra_env: dict) -> Path:
    """A full training (no component cache) in its own copy; the DIET checkpoint prefix."""
    root = work / name
    _copy_inputs(root)
    env = {**rasa_env(root), **extra_env, "RASA_CACHE_DIRECTORY": str(root / ".cache")}
    target = root / "model.tar.gz"
    subprocess.run(train_command(root, target, full=True), cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
    with tarfile.open(target) as tar:
        tar.extractall(root / "model")
    return next((root / "model").rglob("DIETClassifier.tf_model.index")).with_suffix("")


def _compare(first: Path, second: Path) -> tuple:
    import tensorflow as tf

    a, b = tf.train.load_checkpoint(str(first)), tf.train.load_checkpoint(str(second))
    tensors = differing = 0
    largest = 0.0
    for name in sorted(a.get_variable_to_shape_map()):
        x, y = a.get_tensor(name), b.get_tensor(name)
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
            continue
        tensors += 1
        gap = float(np.max(np.abs(x - y))) if x.size else 0.0
        differing += gap > 0
        largest = max(largest, gap)
    return tensors, differing, largest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onednn", action="store_true", help="oneDNN on, as TensorFlow ships it")
    args = parser.parse_args()
    setting = {"TF_ENABLE_ONEDNN_OPTS": "1"} if args.onednn else {}
    with tempfile.TemporaryDirectory(prefix="amaan-numerics-") as tmp:
        work = Path(tmp)
        native = _train(work, "native", setting)
        capped = _train(work, "avx2", {**setting, "ONEDNN_MAX_CPU_ISA": "AVX2"})
        tensors, differing, largest = _compare(native, capped)
    label = "oneDNN on" if args.onednn else "project numerics (oneDNN off)"
    print(f"{label}: {differing} of {tensors} DIET weight tensors differ; largest difference {largest:.3g}")
    return 0 if differing == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    raise SystemExit(main())
