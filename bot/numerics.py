"""The numerical settings under which TensorFlow trains and reads the model.

The same inputs must give the same model on every machine, or figures measured on one machine gate
a build on another. TensorFlow's oneDNN kernels choose their instructions (AVX2, AVX-512...) when
they run: the unchanged inputs trained on this project's machines gave models that differed by a
disclosure on the blind sets, and capping oneDNN at AVX2 on one machine changed 24 of DIET's 30
weight tensors (bench/numerics.py). TensorFlow's own kernels are built for one instruction set
whatever the CPU, and fixed thread pools split the work the same way on any number of cores.
Every process that trains or reads the model runs with these (Makefile, rasa_env, bot/__init__).
"""

from __future__ import annotations

import os

__all__ = ["NUMERICS", "apply"]

NUMERICS = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "2"}


def apply() -> None:
    """Put the settings into this process's environment (before TensorFlow is first imported)."""
    os.environ.update(NUMERICS)
