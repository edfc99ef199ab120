"""Random streams that give the same numbers however many are taken at once.

The traffic model draws from one stream per purpose (a traffic source's arrivals and client
choices, a node's endpoint choices, a pod's service times). Each stream refills from its own
``numpy.random.Generator`` in fixed blocks, so taking values one at a time (the event-driven
path) or a thousand at a time (the vectorized path) yields the same sequence, and both paths
give the same records.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["Draws", "generator"]

BLOCK = 4096


def generator(*parts: object) -> np.random.Generator:
    """A generator seeded from the cluster seed and a purpose (stable across runs and machines)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))


class Draws:
    """A buffered stream of standard exponential, standard normal or uniform [0, 1) values."""

    __slots__ = ("_rng", "_kind", "_buf", "_i")

    def __init__(self, rng: np.random.Generator, kind: str) -> None:
        self._rng = rng
        self._kind = kind
        self._buf = np.empty(0)
        self._i = 0

    def _block(self) -> np.ndarray:
        if self._kind == "exponential":
            return self._rng.standard_exponential(BLOCK)
        if self._kind == "normal":
            return self._rng.standard_normal(BLOCK)
        return self._rng.random(BLOCK)

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` values."""
        while len(self._buf) - self._i < n:
            self._buf = np.concatenate([self._buf[self._i:], self._block()])
            self._i = 0
        out = self._buf[self._i:self._i + n]
        self._i += n
        return out

    def peek(self, n: int) -> np.ndarray:
        """The next ``n`` values without consuming them."""
        out = self.take(n)
        self._i -= n
        return out

    def one(self) -> float:
        """The next value (as a Python float)."""
        if self._i >= len(self._buf):
            self._buf = self._block()
            self._i = 0
        v = self._buf[self._i]
        self._i += 1
        return float(v)
