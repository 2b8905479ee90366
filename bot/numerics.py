"""The numerical settings under which TensorFlow trains and reads the model.

Measured with ``bench/numerics.py``: two trainings of the same inputs on one machine give identical
weights, but TensorFlow's matrix products on x86 go through oneDNN, which chooses its instructions
(AVX2, AVX-512, AMX...) by the CPU it finds, and capping it at AVX2 changes 24 of DIET's 30 weight
tensors. So oneDNN is capped at AVX2, its graph rewrites are off, and the thread pools are fixed.
Every process that trains or reads the model runs with these (Makefile, ``rasa_env``, and
``bot/__init__`` before TensorFlow is imported); they are part of the model's fingerprint.

What they do not do (found 2026-12-07 on the next machine, README "The same model on every
machine? Not yet."): make the model machine-independent. That machine's retrain under these settings
gave the same safety counts but other check-ins and macro-F1 than the machine before. They make a
machine's trainings repeatable; a model identical everywhere needs the trained model shipped.
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
