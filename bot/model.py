"""The trained model, cached by a hash of everything that shapes it.

``ensure_model()`` returns the cached model for the current ``config.yml``, ``domain.yml``, training
data and NLU code, and trains one only when none exists. The cache lives outside the checkout
(``AMAAN_MODEL_DIR``, default ``~/.cache/amaan/models``) so that a fresh clone with unchanged data,
as in CI, does not retrain.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from bot.numerics import NUMERICS
from bot.settings import PROJECT_ROOT, get_settings

__all__ = ["NUMERICS", "TRAINING_DATA", "fingerprint", "ensure_model", "model_path", "rasa_env", "train_command"]

logger = logging.getLogger(__name__)

# What rasa trains on. data/content, data/lexicons, data/safety and helplines are read at run time.
TRAINING_DATA = ("data/nlu/en", "data/nlu/ar", "data/rules", "data/stories")
_HASHED = ("config.yml", "domain.yml", "requirements.txt", *TRAINING_DATA, "bot/nlu", "bot/language.py")


def _files(root: Path, entries: Iterable[str]) -> List[Path]:
    found: List[Path] = []
    for entry in entries:
        path = root / entry
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml", ".py"))
    return found


def _numerics_key() -> bytes:
    """The numerics a model was trained under, as bytes to hash (bot/numerics.py)."""
    return json.dumps(NUMERICS, sort_keys=True).encode()


def fingerprint(root: Path = PROJECT_ROOT) -> str:
    """A hash of the config, domain, training data and NLU code: equal hashes, equal models."""
    digest = hashlib.sha256(_numerics_key())
    for path in _files(root, _HASHED):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = PROJECT_ROOT, cache_dir: Optional[Path] = None) -> Path:
    return (cache_dir or get_settings().model_cache_dir) / f"amaan-{fingerprint(root)}.tar.gz"


def rasa_env(root: Path = PROJECT_ROOT) -> Dict[str, str]:
    """Environment for rasa subprocesses: our packages importable, no telemetry, quiet TensorFlow."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(NUMERICS)
    # Rasa's own component cache does not know the numerics: keep one cache per setting.
    env["RASA_CACHE_DIRECTORY"] = str(root / ".rasa" / ("cache-" + hashlib.sha256(_numerics_key()).hexdigest()[:8]))
    env.setdefault("LOG_LEVEL", "INFO")
    return env


def train_command(root: Path, target: Path, full: bool = False) -> List[str]:
    """The ``rasa train`` command that writes ``target``; ``full`` skips Rasa's component cache."""
    return [
        sys.executable, "-m", "rasa", "train",
        "--config", str(root / "config.yml"),
        "--domain", str(root / "domain.yml"),
        "--data", *[str(root / d) for d in TRAINING_DATA],
        "--out", str(target.parent),
        "--fixed-model-name", target.name[: -len(".tar.gz")],
        *(["--force"] if full else []),
    ]  # fmt: skip


def ensure_model(root: Path = PROJECT_ROOT, cache_dir: Optional[Path] = None, force: bool = False) -> Path:
    """The cached model for the current inputs, training it first if there is none."""
    target = model_path(root, cache_dir)
    if target.exists() and not force:
        logger.info("model.cache.hit path=%s", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(
        f"Training a model for fingerprint {target.name.removesuffix('.tar.gz').removeprefix('amaan-')} (no cached one)...",
        flush=True,
    )
    started = time.monotonic()
    cmd = train_command(root, target)
    subprocess.run(cmd, cwd=root, env=rasa_env(root), check=True)
    seconds = time.monotonic() - started
    target.with_suffix("").with_suffix(".json").write_text(json.dumps({"training_seconds": round(seconds, 1)}))
    print(f"Trained in {seconds:.0f} s: {target}", flush=True)
    return target
