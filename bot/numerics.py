"""The numerical settings under which TensorFlow trains and reads the model.

The same inputs must give the same model on every machine, or figures measured on one machine gate
a build on another. TensorFlow's matrix products on x86 go through oneDNN, which chooses its
instructions (AVX2, AVX-512, AMX...) when it runs, by the CPU it finds: the unchanged inputs trained
on this project's machines gave models that differed by a disclosure on the blind sets. Measured
with ``bench/numerics.py`` on 2026-12-07: two trainings at once on one machine give identical
weights, but capping oneDNN at AVX2 changes 24 of DIET's 30 weight tensors, with oneDNN's graph
rewrites on or off. So oneDNN is capped at AVX2, which every x86 machine this runs on has, its graph
rewrites are off, and the thread pools are fixed, so that the work is split the same way on any
number of cores. Every process that trains or reads the model runs with these (Makefile,
``rasa_env``, and ``bot/__init__`` before TensorFlow is imported); they are part of the model's
fingerprint.
"""

from __future__ import annotations

import os

__all__ = ["NUMERICS", "apply"]

NUMERICS = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TF_NUM_INTRAOP_THREADS": "2",
    "TF_NUM_INTEROP_THREADS": "2",
}


def apply() -> None:
    """Put the settings into this process's environment (before TensorFlow is first imported)."""
    os.environ.update(NUMERICS)
