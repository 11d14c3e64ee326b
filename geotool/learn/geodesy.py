"""Great-circle distance in Python: the one implementation the learning half uses.

Training's validation ladder (:mod:`geotool.learn.train`) and the concept pass's per-image
error (:mod:`geotool.explain.pipeline`) measure the same thing the database does with
``geotool_haversine`` (``sql/learn/prediction_functions.sql``): the haversine distance on a
sphere of radius 6371 km, float64, with the argument clamped to [0, 1] so that rounding
near the antipodes cannot give NaN. Keeping one Python copy keeps the three in agreement;
``tests/learn/test_geodesy.py`` checks it against pyproj and against the SQL function.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: Sphere radius in km, the same as ``geotool_haversine``'s.
EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike,
                 lon2: ArrayLike) -> np.ndarray:
    """Great-circle distance in km between (lat1, lon1) and (lat2, lon2), element-wise
    (degrees in, broadcasting like NumPy)."""
    p1, p2 = np.radians(np.asarray(lat1, dtype=np.float64)), np.radians(
        np.asarray(lat2, dtype=np.float64))
    dphi = p2 - p1
    dlam = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))
