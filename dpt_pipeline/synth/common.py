"""Small vectorised helpers the generator's stages share: random picks, serial numbers, dates, string Series.

None of them draws from a generator of its own: each takes the caller's `rng`, so the order of draws stays the
caller's.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def _w(text: str, sep: str = " ") -> list[str]:
    """The non-empty words of text split at sep."""
    return [t for t in text.split(sep) if t]


def _pick(rng: np.random.Generator, items: list[str], n: int) -> np.ndarray:
    """n items drawn with replacement, as an object array."""
    arr = np.array(items, dtype=object)
    return arr[rng.integers(0, len(items), n)]


def _sample_k(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    """k distinct elements of pool (fewer if the pool is smaller), in pool order."""
    k = int(min(max(k, 0), pool.size))
    if k == 0:
        return pool[:0]
    return np.sort(rng.choice(pool, size=k, replace=False))


def _unique_serial(key: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Serial numbers >= raw, strictly increasing (so distinct) within each key."""
    n = key.size
    if n == 0:
        return raw.copy()
    order = np.lexsort((raw, key))
    k = key[order]
    start = np.ones(n, dtype=bool)
    start[1:] = k[1:] != k[:-1]
    pos0 = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    rank = np.arange(n) - pos0
    gid = np.cumsum(start).astype(np.int64)
    big = np.int64(10**7)
    t = raw[order].astype(np.int64) - rank + gid * big
    s = np.maximum.accumulate(t) - gid * big + rank
    out = np.empty(n, dtype=np.int64)
    out[order] = s
    return out


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day numbers of datetime64 days."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    return (
        y.astype(np.int64) + 1970,
        (m - y.astype("datetime64[M]")).astype(np.int64) + 1,
        (d - m.astype("datetime64[D]")).astype(np.int64) + 1,
    )


def _days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Days in month m of year y."""
    first = (y - 1970) * 12 + (m - 1)
    a = first.astype("datetime64[M]").astype("datetime64[D]")
    b = (first + 1).astype("datetime64[M]").astype("datetime64[D]")
    return (b - a).astype(np.int64)


def _s(values: np.ndarray | list[str]) -> pl.Series:
    """A String Series of the values (None stays null)."""
    return pl.Series(values=list(values) if isinstance(values, np.ndarray) else values, dtype=pl.String)


def _zfill(a: np.ndarray, width: int) -> pl.Series:
    """Integers as text, zero-padded to width."""
    return pl.Series(a.astype(np.int64)).cast(pl.String).str.zfill(width)


def _join_parts(parts: list[pl.Series], sep: str = " ") -> pl.Series:
    """Row-wise join of the parts with sep, nulls left out."""
    df = pl.DataFrame({f"c{i}": p for i, p in enumerate(parts)})
    return df.select(pl.concat_str(pl.all(), separator=sep, ignore_nulls=True).alias("s")).to_series()


def _where(mask: np.ndarray, a: pl.Series, b: pl.Series) -> pl.Series:
    """a where mask, else b (String)."""
    return pl.select(pl.when(pl.Series(mask)).then(a).otherwise(b)).to_series().cast(pl.String)


def _apply_rules(
    s: pl.Series, rows: np.ndarray, rules: list[tuple[str, str, bool]], rng: np.random.Generator
) -> tuple[pl.Series, np.ndarray]:
    """Apply one applicable rule (chosen at random) to each of `rows` of `s`; return it and a changed mask."""
    s = s.clone()
    changed = np.zeros(len(s), dtype=bool)
    if rows.size == 0:
        return s, changed
    sub = s.gather(rows)
    appl = np.column_stack([sub.str.contains(p).fill_null(False).to_numpy() for p, _, _ in rules])
    score = np.where(appl, rng.random(appl.shape), -1.0)
    choice = np.where(appl.any(axis=1), score.argmax(axis=1), -1)
    for r, (pat, rep, all_) in enumerate(rules):
        idx = rows[choice == r]
        if idx.size:
            old = s.gather(idx)
            new = old.str.replace_all(pat, rep) if all_ else old.str.replace(pat, rep, n=1)
            s.scatter(idx, new)
    changed[rows] = (s.gather(rows) != sub).fill_null(False).to_numpy()
    return s, changed


def _rule_applicable(s: pl.Series, rules: list[tuple[str, str, bool]]) -> np.ndarray:
    """Mask of the values at least one rule's pattern matches."""
    out = np.zeros(len(s), dtype=bool)
    for p, _, _ in rules:
        out |= s.str.contains(p).fill_null(False).to_numpy()
    return out
