"""Evaluation messages that repeat the training data or the safety lexicon.

A figure measured on a message the model was trained on says nothing about messages it has not
seen. Every evaluation message of ``MIN_WORDS`` words or more is compared, after
``normalize_for_matching`` (case, Arabic letter forms, punctuation), with every training example
in ``data/nlu/`` and every phrase of the danger lexicon; a RapidFuzz ``ratio`` of ``MAX_RATIO`` or
more is an overlap. ``tests/test_eval_sets.py`` fails on any.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Sequence

import yaml
from rapidfuzz import fuzz, process

from bot.evaluation.sets import EvalItem
from bot.language import normalize_for_matching
from bot.settings import PROJECT_ROOT

__all__ = ["Overlap", "find_overlaps", "training_texts", "lexicon_phrases", "MIN_WORDS", "MAX_RATIO"]

MIN_WORDS = 4
MAX_RATIO = 90.0


@dataclass(frozen=True)
class Overlap:
    item: EvalItem
    source: str  # what it repeats: a training example or a lexicon phrase
    ratio: float


def training_texts(root: Path = PROJECT_ROOT / "data" / "nlu") -> List[str]:
    """Every training example in ``data/nlu/<lang>/*.yml``."""
    texts: List[str] = []
    for path in sorted(root.glob("*/*.yml")):
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        for block in data.get("nlu") or []:
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- ") and line[2:].strip():
                    texts.append(line[2:].strip())
    return texts


def lexicon_phrases(path: Path = PROJECT_ROOT / "data" / "safety" / "danger.yml") -> List[str]:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    return [str(p) for kinds in (data.get("phrases") or {}).values() for items in (kinds or {}).values() for p in items]


def find_overlaps(items: Sequence[EvalItem], sources: Iterable[str]) -> List[Overlap]:
    """The items of ``MIN_WORDS`` words or more that equal or nearly equal one of ``sources``."""
    long_items = [item for item in items if len(normalize_for_matching(item.text).split()) >= MIN_WORDS]
    originals = list(dict.fromkeys(sources))
    if not long_items or not originals:
        return []
    queries = [normalize_for_matching(item.text) for item in long_items]
    choices = [normalize_for_matching(text) for text in originals]
    scores = process.cdist(queries, choices, scorer=fuzz.ratio, score_cutoff=MAX_RATIO, workers=-1)
    found: List[Overlap] = []
    for row, item in enumerate(long_items):
        best = int(scores[row].argmax())
        if scores[row][best] >= MAX_RATIO:
            found.append(Overlap(item, originals[best], float(scores[row][best])))
    return found
