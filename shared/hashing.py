"""Seeded hashes that give the same answer on every machine and library version.

polars' ``Series.hash`` is documented as not stable across polars versions, so a
holdout split drawn from it moves when polars is upgraded (it did: a fresh machine
put 992 hardware positives in the holdout where the figures said 1,009). These
helpers hash the *text* of each value with BLAKE2b (hashlib, stable by definition),
so integer ids and string ids with leading zeros are both handled: ``42`` and
``"42"`` fall together, ``"0042"`` does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

_SCALE = float(2**64)


def stable_unit_hash(values: Iterable[Any], seed: int) -> np.ndarray:
    """One float in ``[0, 1)`` per value, a deterministic function of ``(seed, str(value))``.

    In: any iterable of ids (ints, strings, a polars Series); out: float64 array of the
    same length. Unique values are hashed once (about 1 µs each).
    """
    items = list(values)
    key = str(int(seed)).encode()
    cache: dict[str, float] = {}
    out = np.empty(len(items), dtype=np.float64)
    for i, v in enumerate(items):
        text = str(v)
        u = cache.get(text)
        if u is None:
            digest = hashlib.blake2b(text.encode(), digest_size=8, key=key).digest()
            u = int.from_bytes(digest, "little") / _SCALE
            cache[text] = u
        out[i] = u
    return out


def stable_bucket(values: Iterable[Any], seed: int, n_buckets: int) -> np.ndarray:
    """One integer in ``[0, n_buckets)`` per value (folds), from :func:`stable_unit_hash`."""
    return np.minimum((stable_unit_hash(values, seed) * n_buckets).astype(np.int64), n_buckets - 1)
