"""Loaded into a real campaign worker by ``tests/test_campaigns_memory.py`` (``python -m dramatiq
bot.campaigns.worker tests.campaign_memory_probe``): an actor that looks at the worker process from
inside — its resident memory, its malloc arenas, the ``ReturnFreedMemory`` on its broker — and
leaves freed memory scattered between live blocks, as a batch does; it answers on a Redis list."""

from __future__ import annotations

import ctypes
import json
import os
import re
import tempfile
import threading
from typing import Any, Dict, List

import dramatiq
import redis

from bot.campaigns.memory import ReturnFreedMemory
from bot.campaigns.worker import QUEUE
from bot.settings import get_settings

__all__ = ["memory_probe", "rss_kib", "arenas", "arenas_after_threads", "fragment"]

ACTOR = "memory_probe"
_KEPT: List[bytes] = []


def rss_kib() -> int:
    status = open("/proc/self/status").read()  # noqa: SIM115 - read at once
    return int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]


def arenas() -> int:
    """How many malloc arenas this process has (glibc's ``malloc_info``: one ``<heap>`` each)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.argtypes, libc.fopen.restype = [ctypes.c_char_p, ctypes.c_char_p], ctypes.c_void_p
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        return len(re.findall(r"<heap nr=", open(out.name).read()))


def arenas_after_threads(count: int = 8) -> int:
    """``count`` threads allocate at the same moment (as a worker's threads do), then the arenas."""
    barrier = threading.Barrier(count)

    def allocate() -> None:
        barrier.wait()
        held = [b"\x01" * 4096 for _ in range(200)]
        barrier.wait()  # every thread has its blocks while the others allocate theirs
        del held

    threads = [threading.Thread(target=allocate) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return arenas()


def fragment(mib: int = 96) -> Dict[str, int]:
    """Allocate ``mib`` MiB in 16 KiB blocks (malloc's, not Python's small-object allocator), keep one
    block in 16 and free the others: the freed memory lies between live blocks, where ``free`` does
    not give it back. RSS before, with the blocks, and after freeing."""
    before = rss_kib()
    blocks = [b"\x01" * 16384 for _ in range(mib * 64)]
    full = rss_kib()
    _KEPT.extend(blocks[15::16])
    del blocks
    return {"rss_before_kib": before, "rss_full_kib": full, "rss_freed_kib": rss_kib()}


def _middleware() -> Dict[str, Any]:
    found = [m for m in dramatiq.get_broker().middleware if isinstance(m, ReturnFreedMemory)]
    if not found:
        return {"installed": False}
    m = found[0]
    return {"installed": True, "arenas_limited": m.arenas_limited, "trims": m.trims, "released": m.released}


@dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, max_retries=0)
def memory_probe(step: str, answer_to: str) -> None:
    answer: Dict[str, Any] = {"step": step, "pid": os.getpid()}
    if step == "arenas":
        answer["arenas"] = arenas_after_threads()
    elif step == "fragment":
        answer.update(fragment())
    answer.update(rss_kib=rss_kib(), middleware=_middleware())
    with redis.Redis.from_url(get_settings().redis_url or "") as client:
        client.rpush(answer_to, json.dumps(answer))
