"""Small-count protection for what the console shows and exports.

* A count from 1 to ``THRESHOLD - 1`` (1–9) is shown as "<10" (zero is shown: it says nothing
  about anyone).
* **Complementary suppression**: a table shows its total, so one hidden cell could be worked out
  by subtraction, and so could two hidden cells whose sum pins each of them down (a sum of 2 over
  two cells of 1–9 means both are 1). While any hidden cell's value can still be worked out from
  the total, the ranges the reader knows (1–9 for "<10", at least 10 for a cell hidden only to
  protect another) and the other cells, the smallest cell still shown is hidden too (as "—"). If
  that is not enough, the total is hidden as well.
* A percentage is shown only over a denominator of at least 10, and only when its numerator is
  shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

__all__ = ["THRESHOLD", "Cell", "suppress", "cell", "percentage", "SMALL", "HIDDEN"]

THRESHOLD = 10
SMALL = f"<{THRESHOLD}"
HIDDEN = "—"
_UNBOUNDED = float("inf")


@dataclass(frozen=True)
class Cell:
    value: int  # the true count: never rendered when hidden
    shown: str  # what the page and the CSV show: a number, "<10" or "—"

    @property
    def hidden(self) -> bool:
        return not self.shown.isdigit()

    @property
    def number(self) -> Optional[int]:
        return None if self.hidden else self.value


def cell(value: int) -> Cell:
    """One count on its own (no total beside it)."""
    return Cell(value, SMALL if 0 < value < THRESHOLD else str(value))


def _ranges(cells: Sequence[Tuple[int, str]]) -> List[Tuple[float, float]]:
    return [(1, THRESHOLD - 1) if shown == SMALL else (THRESHOLD, _UNBOUNDED) for _, shown in cells]


def _recoverable(hidden: List[Tuple[int, str]], remainder: int) -> bool:
    """Whether some hidden cell's value follows from the others' ranges and their known sum."""
    if not hidden:
        return False
    ranges = _ranges(hidden)
    lows = sum(low for low, _ in ranges)
    highs = sum(high for _, high in ranges)
    for low, high in ranges:
        others_low, others_high = lows - low, highs - high
        least = max(low, remainder - others_high)
        most = min(high, remainder - others_low)
        if least >= most:
            return True
    return False


def suppress(values: Sequence[int], with_total: bool = True) -> Tuple[List[Cell], Cell]:
    """The cells of one table and its total, with small counts and their complements hidden."""
    shown = [SMALL if 0 < v < THRESHOLD else str(v) for v in values]
    total = sum(values)
    total_shown = SMALL if 0 < total < THRESHOLD else str(total)
    if with_total and total_shown.isdigit():
        while True:
            hidden = [(v, s) for v, s in zip(values, shown, strict=False) if not s.isdigit()]
            visible_sum = sum(v for v, s in zip(values, shown, strict=False) if s.isdigit())
            if not _recoverable(hidden, total - visible_sum):
                break
            candidates = [i for i, (v, s) in enumerate(zip(values, shown, strict=False)) if s.isdigit() and v > 0]
            if not candidates:
                total_shown = HIDDEN
                break
            smallest = min(candidates, key=lambda i: (values[i], i))
            shown[smallest] = HIDDEN
    return [Cell(v, s) for v, s in zip(values, shown, strict=False)], Cell(total, total_shown)


def percentage(numerator: Cell, denominator: Cell) -> Optional[int]:
    """A whole percentage, or None when it would tell about fewer than 10 (or a hidden count)."""
    if numerator.hidden or denominator.hidden or denominator.value < THRESHOLD:
        return None
    return round(100 * numerator.value / denominator.value)
