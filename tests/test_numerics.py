"""The model's numerics (bot/numerics.py): every process that trains or reads the model runs
TensorFlow with oneDNN capped at AVX2, its graph rewrites off and fixed thread pools (repeatable
trainings on one machine; not, as once hoped, on every machine), and a model trained under other
settings is never taken from the cache."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import bot.model
from bot.model import fingerprint, rasa_env
from bot.numerics import NUMERICS
from bot.settings import PROJECT_ROOT


def test_the_makefile_exports_the_same_settings() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    exported = dict(re.findall(r"^export ((?:TF|ONEDNN)_[A-Z_]+) := (\S+)$", makefile, re.M))
    assert {name: exported.get(name) for name in NUMERICS} == NUMERICS


def test_rasa_subprocesses_get_the_settings_and_a_cache_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")  # a user's environment does not win
    env = rasa_env(PROJECT_ROOT)
    assert {name: env[name] for name in NUMERICS} == NUMERICS
    assert env["RASA_CACHE_DIRECTORY"].startswith(str(PROJECT_ROOT / ".rasa" / "cache-"))


def test_tensorflow_runs_without_onednn_once_bot_is_imported() -> None:
    code = "import bot\nfrom tensorflow.python.util import _pywrap_util_port as port\nprint(port.IsMklEnabled())"
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_other_numerics_give_another_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    before = fingerprint()
    monkeypatch.setattr(bot.model, "NUMERICS", {**NUMERICS, "TF_ENABLE_ONEDNN_OPTS": "1"})
    assert fingerprint() != before
