"""The plane a desa is solved in: metres from latitude and longitude, squared distances, distinct points and
weighted means. Shared by the solver, the numbering and the check of the coordinates file."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

M_PER_DEG_LAT = 110_540.0
M_PER_DEG_LON = 111_320.0


@dataclass(frozen=True)
class Projection:
    """Equirectangular projection around a desa's mean latitude: fine over a few kilometres."""

    lat0: float

    def to_metres(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """(n, 2) metres east of longitude 0 (at the scale of lat0) and north of the equator."""
        return np.column_stack([lon * M_PER_DEG_LON * math.cos(math.radians(self.lat0)), lat * M_PER_DEG_LAT])

    def to_degrees(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude of (n, 2) metres."""
        return xy[:, 1] / M_PER_DEG_LAT, xy[:, 0] / (M_PER_DEG_LON * math.cos(math.radians(self.lat0)))


def sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances between the rows of a (n, 2) and b (m, 2), (n, m)."""
    return (a[:, None, 0] - b[None, :, 0]) ** 2 + (a[:, None, 1] - b[None, :, 1]) ** 2


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(a, axis=0, return_inverse=True) (the same rows in the same order), several times faster."""
    order = np.lexsort(a.T[::-1])
    s = a[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (s[1:] != s[:-1]).any(axis=1)
    inverse = np.empty(len(a), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return s[first], inverse


def centres_of(labels: np.ndarray, w: np.ndarray, xy: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Each label's mean point, weighted by `w` (voters); a label with no voters keeps its `fallback` row."""
    k = len(fallback)
    mass = np.bincount(labels, weights=w, minlength=k)
    sums = np.stack([np.bincount(labels, weights=w * xy[:, d], minlength=k) for d in (0, 1)], axis=1)
    out = fallback.copy()
    out[mass > 0] = sums[mass > 0] / mass[mass > 0, None]
    return out
