"""Does the trained model depend on the run or the machine? Train the same inputs twice, at the same
time, and compare DIET's weights: ``--second same`` repeats the first training exactly (run-to-run
determinism), ``--second avx2`` caps oneDNN (which TensorFlow's matrix products go through on x86)
at AVX2, as on a machine without AVX-512. ``--settings shipped`` trains as TensorFlow ships
(oneDNN free to use AVX-512 and its graph rewrites on), ``--settings project`` with the project's
numerics (bot/numerics.py), ``--settings onednn-off`` with only the graph rewrites off.

    python bench/numerics.py [--settings shipped|onednn-off|project] [--second same|avx2]
    python bench/numerics.py --speed 400

``--speed N``: what the settings cost when answering. The cached model reads N development messages
in a process with TensorFlow as shipped and in one with the project's numerics, in the order
shipped, project, project, shipped; prints milliseconds per message and their ratio.

Each run trains twice in full in temporary copies of the inputs (~25 minutes on 2 cores). What it
found on 2026-12-07: ``shipped --second avx2`` and ``onednn-off --second avx2``: 24 of 30 tensors
differ (largest difference 0.07); ``onednn-off --second same``: identical.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.model import TRAINING_DATA, rasa_env, train_command  # noqa: E402
from bot.numerics import NUMERICS  # noqa: E402

SETTINGS = {"shipped": {}, "onednn-off": {"TF_ENABLE_ONEDNN_OPTS": "0"}, "project": dict(NUMERICS)}
INPUTS = ("config.yml", "domain.yml", "bot", *TRAINING_DATA)


def _env_as_shipped(root: Path) -> dict:
    """``rasa_env`` without the project's numerics: each run adds the settings it measures."""
    return {k: v for k, v in rasa_env(root).items() if k not in NUMERICS}


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
    env = {**_env_as_shipped(root), **extra_env, "RASA_CACHE_DIRECTORY": str(root / ".cache")}
    target = root / "model.tar.gz"
    done = subprocess.run(train_command(root, target, full=True), cwd=root, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"training {name} failed:\n{done.stderr[-3000:]}")
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


_SPEED = """
import asyncio, sys, time
from rasa.core.agent import Agent
from bot.evaluation.sets import SETS, load_items
texts = [i.text for s in SETS if s.role == "dev" for i in load_items(s)][: int(sys.argv[2])]
async def go():
    agent = Agent.load(sys.argv[1])
    for t in texts[:20]:
        await agent.parse_message(t)
    start = time.perf_counter()
    for t in texts:
        await agent.parse_message(t)
    print((time.perf_counter() - start) * 1000 / len(texts))
asyncio.run(go())
"""


def _speed(messages: int) -> None:
    from bot.model import ensure_model

    model = str(ensure_model())
    base = _env_as_shipped(ROOT)
    timings: dict = {"shipped": [], "project": []}
    for name in ("shipped", "project", "project", "shipped"):
        env = {**base, **SETTINGS[name], "TF_CPP_MIN_LOG_LEVEL": "3", "LOG_LEVEL": "ERROR"}
        done = subprocess.run(
            [sys.executable, "-c", _SPEED, model, str(messages)], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode:
            sys.exit(done.stderr[-3000:])
        timings[name].append(float(done.stdout.strip().splitlines()[-1]))
    shipped, project = (sum(timings[k]) / 2 for k in ("shipped", "project"))
    print(f"{messages} messages read by the NLU: shipped {shipped:.1f} ms each, project numerics {project:.1f} ms")
    print(f"ratio project/shipped: {project / shipped:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", choices=tuple(SETTINGS), default="project", help="the numerics of both trainings")
    parser.add_argument("--second", choices=("same", "avx2"), default="same", help="what the second training changes")
    parser.add_argument("--speed", type=int, metavar="N", help="time N messages read under each setting instead")
    args = parser.parse_args()
    if args.speed:
        _speed(args.speed)
        return 0
    setting = SETTINGS[args.settings]
    second = {**setting, "ONEDNN_MAX_CPU_ISA": "AVX2"} if args.second == "avx2" else setting
    with tempfile.TemporaryDirectory(prefix="amaan-numerics-") as tmp:
        work = Path(tmp)
        with ThreadPoolExecutor(max_workers=2) as pool:
            first_run = pool.submit(_train, work, "first", setting)
            second_run = pool.submit(_train, work, "second", second)
            tensors, differing, largest = _compare(first_run.result(), second_run.result())
    label = f"{args.settings} numerics"
    change = "the same training again" if args.second == "same" else "oneDNN capped at AVX2"
    print(f"{label}, {change}: {differing} of {tensors} DIET weight tensors differ; largest difference {largest:.3g}")
    return 0 if differing == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    raise SystemExit(main())
