"""The action server stays light: importing every action module loads neither Rasa's NLU nor
TensorFlow (2026-12-07: one threshold imported from ``bot.nlu.danger`` made the action server load
both, 662 MB instead of 66 MB, and the servers' summed RSS broke the 1.5 GB goal; README, "Speed and
memory")."""

from __future__ import annotations

import subprocess
import sys

from bot.settings import PROJECT_ROOT

HEAVY = ("tensorflow", "rasa.nlu", "rasa.core", "rasa.engine", "sklearn", "jax")

CODE = f"""
import importlib, pkgutil, sys
import actions
for module in pkgutil.walk_packages(actions.__path__, "actions."):
    importlib.import_module(module.name)
print("loaded:" + ",".join(name for name in {HEAVY!r} if name in sys.modules))
"""


def test_no_action_module_loads_rasas_nlu_or_tensorflow() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CODE], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "loaded:", done.stdout
