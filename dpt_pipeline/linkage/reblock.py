"""Incremental blocking: tonight's candidate pairs from last night's, blocking again only the blocks whose
members changed.

A pass's pairs are a function of its blocks: the records sharing its keys. A block whose members are the
ones of last night (no record joined, none left) yields the pairs it yielded last night; only the blocks a
new, changed or removed record belongs to, tonight or last night, are blocked again, by the pass's own code
(`blocking._run_key_pass`, `blocking._dups_to_pairs`) on exactly their records. So the result equals
`blocking.candidate_pairs` on tonight's records (tested over random nights, caps crossed included).

What each record's blocks were is kept per voter as hashes of its keys (`keys_frame`): last night's keys of
a record that left say which blocks it left. A hash only picks which blocks are blocked again (two keys
sharing a hash make a block blocked again for nothing, never one kept wrongly), so the pairs are exact. The
report's largest block sizes are counted on the hashes (a collision, about one in 10^8 per night at a
million records, could merge two sizes there: the pairs stay exact).

Blocks larger than a pass's `max_block` are blocked again every night, so that the skipped blocks and
records are counted as a full run counts them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from dpt_pipeline.linkage.blocking import (
    PAIR_SCHEMA,
    BlockingPass,
    NikEditPass,
    PassReport,
    _dups_to_pairs,
    _run_key_pass,
    pair_key,
    unite,
)

SEED = 7919


def _key_hash(p: BlockingPass) -> pl.Expr:
    """One UInt64 per record for the pass's keys (null when a key is null: the record is in no block)."""
    keys = list(p.keys)
    any_null = pl.any_horizontal([k.is_null() for k in keys])
    return pl.when(~any_null).then(pl.struct([k.alias(f"_k{i}") for i, k in enumerate(keys)]).hash(SEED))


def _nik_columns(p: NikEditPass) -> list[pl.Expr]:
    """The NIK as a number and a hash of the `also` columns (null when either is missing)."""
    v = pl.col(p.column).cast(pl.UInt64, strict=False)
    also = pl.struct([pl.col(c).alias(f"_a{i}") for i, c in enumerate(p.also)]).hash(SEED)
    ok = v.is_not_null() & ~pl.any_horizontal([pl.col(c).is_null() for c in p.also])
    return [pl.when(ok).then(v).alias("v"), pl.when(ok).then(also).alias("also")]


def keys_frame(records: pl.DataFrame, passes: Sequence[BlockingPass | NikEditPass]) -> pl.DataFrame:
    """Per record (in rid order): `h<i>` (UInt64) for each key pass i, `v<i>` and `a<i>` for each NIK pass i
    (its number and a hash of its `also` columns): what the next night's blocking needs of it."""
    cols: list[pl.Expr] = []
    for i, p in enumerate(passes):
        if isinstance(p, NikEditPass):
            v, also = _nik_columns(p)
            cols += [v.alias(f"v{i}"), also.alias(f"a{i}")]
        else:
            cols.append(_key_hash(p).alias(f"h{i}"))
    return records.select(cols)


def keys_schema(passes: Sequence[BlockingPass | NikEditPass]) -> dict[str, pl.DataType]:
    out: dict[str, pl.DataType] = {}
    for i, p in enumerate(passes):
        if isinstance(p, NikEditPass):
            out |= {f"v{i}": pl.UInt64(), f"a{i}": pl.UInt64()}
        else:
            out[f"h{i}"] = pl.UInt64()
    return out


def _sub_keys(v: pl.Expr, also: pl.Expr, p: NikEditPass) -> list[pl.Expr]:
    """The hash of each of the NIK pass's sub-keys (a digit of the first `digits` left out; two adjacent
    digits swapped), in the order `_sub_key_index` numbers them; null where the record has none."""
    out = []
    for i in range(p.digits):
        pw = 10 ** (15 - i)
        d = (v // pw) % 10
        out.append(pl.struct([(v - d * pw).alias("k"), also.alias("a")]).hash(SEED))
        if i < p.digits - 1:
            pw2 = 10 ** (14 - i)
            d2 = (v // pw2) % 10
            out.append(pl.when(d != d2).then(pl.struct([
                (v - d * pw - d2 * pw2).alias("k"), pl.min_horizontal(d, d2).alias("lo"),
                pl.max_horizontal(d, d2).alias("hi"), also.alias("a")]).hash(SEED)))
    return [pl.when(v.is_not_null() & also.is_not_null()).then(e).alias(f"s{j}") for j, e in enumerate(out)]


def _sub_key_index(v_l: np.ndarray, v_r: np.ndarray, digits: int) -> np.ndarray:
    """For pairs the NIK pass found (two different NIKs), the one sub-key they share: 2*i for one digit i
    differing, 2*i + 1 for digits i and i + 1 swapped (the order of `_sub_keys`)."""
    first = np.full(len(v_l), -1, dtype=np.int64)
    count = np.zeros(len(v_l), dtype=np.int64)
    for i in range(16):
        pw = np.uint64(10 ** (15 - i))
        differs = (v_l // pw) % np.uint64(10) != (v_r // pw) % np.uint64(10)
        first = np.where(differs & (first < 0), i, first)
        count += differs
    pos = np.where(count == 1, 2 * first, 2 * first + 1)
    return np.where(first < digits, pos, -1)


def _dirty(now: pl.Series, gone: pl.Series, new_mask: np.ndarray) -> pl.Series:
    """The key hashes of the blocks whose members changed: those of tonight's new records and of last
    night's records that left."""
    return pl.concat([now.filter(pl.Series(new_mask)), gone]).drop_nulls().unique()


def candidate_pairs_since(records: pl.DataFrame, passes: Sequence[BlockingPass | NikEditPass], *,
                          mapped: np.ndarray, last_pairs: pl.DataFrame, last_keys: pl.DataFrame
                          ) -> tuple[pl.DataFrame, list[PassReport], pl.DataFrame]:
    """`blocking.candidate_pairs(records, passes)` from last night's: `mapped[old rid]` is tonight's rid of
    last night's record (-1: it left or changed), `last_pairs` last night's candidates (rid_l, rid_r,
    pass_mask by last night's rids), `last_keys` last night's `keys_frame`. Returns the pairs, the reports
    and tonight's `keys_frame`."""
    keys = keys_frame(records, passes)
    is_new = np.ones(records.height, dtype=bool)
    is_new[mapped[mapped >= 0]] = False
    gone = last_keys.filter(pl.Series(mapped < 0))
    left, right = mapped[last_pairs["rid_l"].to_numpy()], mapped[last_pairs["rid_r"].to_numpy()]
    ok = (left >= 0) & (right >= 0)
    old_l, old_r = left[ok], right[ok]
    mask = last_pairs["pass_mask"].to_numpy()[ok].copy()
    parts: list[pl.DataFrame] = []
    reports: list[PassReport] = []
    for i, p in enumerate(passes):
        bit = np.uint32(1 << i)
        if isinstance(p, NikEditPass):
            pairs, rep, again = _nik_pass(records, keys, gone, is_new, p, i, old_l, old_r, mask & bit != 0)
        else:
            pairs, rep, again = _key_pass(records, keys, gone, is_new, p, i, old_l)
        mask[again & (mask & bit != 0)] &= ~bit
        parts.append(pairs.select(pair_key().alias("key"), pl.lit(int(bit), dtype=pl.UInt32).alias("bit")))
        reports.append(rep)
    kept = pl.DataFrame({"rid_l": pl.Series(old_l, dtype=pl.UInt32), "rid_r": pl.Series(old_r, dtype=pl.UInt32),
                         "bit": pl.Series(mask, dtype=pl.UInt32)}).filter(pl.col("bit") != 0)
    parts.append(kept.select(pair_key().alias("key"), "bit"))
    united, reports = unite(parts, reports)
    return united, reports, keys


def _key_pass(records: pl.DataFrame, keys: pl.DataFrame, gone: pl.DataFrame, is_new: np.ndarray, p: BlockingPass,
              i: int, old_l: np.ndarray) -> tuple[pl.DataFrame, PassReport, np.ndarray]:
    """One key pass blocked again on its changed and oversized blocks; which old pairs it re-blocked."""
    h = keys[f"h{i}"]
    frame = pl.DataFrame({"h": h})
    if p.one_side is not None:
        frame = frame.with_columns(records.select(p.one_side.fill_null(False).alias("one")))
    sizes = frame.drop_nulls("h").group_by("h").agg(
        pl.len().alias("n"), *([pl.col("one").any()] if p.one_side is not None else []))
    counted = sizes.filter(pl.col("n") > 1)
    if p.one_side is not None:
        counted = counted.filter(pl.col("one"))
    largest = counted["n"].sort(descending=True).head(3).to_list()
    again_keys = pl.concat([_dirty(h, gone[f"h{i}"], is_new), sizes.filter(pl.col("n") > p.max_block)["h"]])
    again = h.is_in(again_keys.implode()).fill_null(False).to_numpy()
    pairs, rep = _run_key_pass(records.filter(pl.Series(again)), p)
    rep.largest_blocks = largest
    return pairs, rep, again[old_l]


def _nik_pass(records: pl.DataFrame, keys: pl.DataFrame, gone: pl.DataFrame, is_new: np.ndarray, p: NikEditPass,
              i: int, old_l: np.ndarray, old_r: np.ndarray, found: np.ndarray
              ) -> tuple[pl.DataFrame, PassReport, np.ndarray]:
    """The NIK pass blocked again on the sub-blocks that changed; which of its old pairs it re-blocked."""
    v, a = pl.col(f"v{i}"), pl.col(f"a{i}")
    subs = keys.select(_sub_keys(v, a, p))
    subs_gone = gone.select(_sub_keys(v, a, p))
    also = [f"_a{j}" for j in range(len(p.also))]
    nik = records.select("rid", pl.col(p.column).cast(pl.UInt64, strict=False).alias("v"),
                         *[pl.col(c).alias(x) for c, x in zip(p.also, also, strict=True)])
    v_all = keys[f"v{i}"].fill_null(0).to_numpy()   # UInt64 kept exact (with nulls numpy would make it float)
    which = np.full(len(old_l), -1, dtype=np.int64)
    if found.any():
        which[found] = _sub_key_index(v_all[old_l[found]], v_all[old_r[found]], p.digits)
    again_old = np.zeros(len(old_l), dtype=bool)
    parts, largest = [], 0
    for j, col in enumerate(subs.columns):
        h = subs[col]
        dup = h.is_duplicated() & h.is_not_null()
        if dup.any():
            largest = max(largest, int(h.filter(dup).value_counts()["count"].max()))  # type: ignore[arg-type]
        again = h.is_in(_dirty(h, subs_gone[col], is_new).implode()).fill_null(False).to_numpy()
        again_old |= (which == j) & again[old_l]
        digit, swapped = divmod(j, 2)
        pw = 10 ** (15 - digit)
        d = (pl.col("v") // pw) % 10
        sub = nik.filter(pl.Series(again))
        if swapped:
            pw2 = 10 ** (14 - digit)
            d2 = (pl.col("v") // pw2) % 10
            keyed = sub.drop_nulls(["v", *also]).filter(d != d2).select(
                "rid", (pl.col("v") - d * pw - d2 * pw2).alias("k"), pl.min_horizontal(d, d2).alias("lo"),
                pl.max_horizontal(d, d2).alias("hi"), *also)
            parts.append(_dups_to_pairs(keyed, ["k", "lo", "hi", *also], p.max_block)[0])
        else:
            keyed = sub.drop_nulls(["v", *also]).select("rid", (pl.col("v") - d * pw).alias("k"), *also)
            parts.append(_dups_to_pairs(keyed, ["k", *also], p.max_block)[0])
    pairs = pl.concat(parts).unique() if parts else pl.DataFrame(schema=PAIR_SCHEMA)
    same = nik.select("rid", "v")
    pairs = (pairs.join(same.rename({"rid": "rid_l", "v": "v_l"}), on="rid_l")
             .join(same.rename({"rid": "rid_r", "v": "v_r"}), on="rid_r")
             .filter(pl.col("v_l") != pl.col("v_r")).select("rid_l", "rid_r"))
    return pairs, PassReport(p.name, p.description, pairs.height, 0, [largest], 0, 0), again_old
