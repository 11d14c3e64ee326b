"""Vectorised drawing primitives: a canvas that paints colour and concept label together.

Every primitive computes a boolean mask over its (clipped) bounding box with whole-array numpy
operations and writes the colour into the RGB buffer and the ADE20k id into the label buffer
with the same mask, so the label map matches the drawn pixels exactly (painter's algorithm:
later shapes cover earlier ones in both buffers). No per-pixel Python loops.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]
Color = NDArray[Any] | tuple[float, float, float]


class Canvas:
    """A square RGB float image (0..255) and its label map (uint8 ADE20k ids, 0 = other)."""

    __slots__ = ("size", "rgb", "labels", "coords")

    def __init__(self, size: int) -> None:
        self.size = size
        self.rgb: FloatArray = np.zeros((size, size, 3), dtype=np.float32)
        self.labels: NDArray[np.uint8] = np.zeros((size, size), dtype=np.uint8)
        self.coords: FloatArray = np.arange(size, dtype=np.float32) + 0.5

    def _box(self, y0: float, y1: float, x0: float, x1: float) -> tuple[int, int, int, int] | None:
        s = self.size
        ya, yb = max(int(y0), 0), min(int(np.ceil(y1)), s)
        xa, xb = max(int(x0), 0), min(int(np.ceil(x1)), s)
        if ya >= yb or xa >= xb:
            return None
        return ya, yb, xa, xb

    def _paint(
        self, box: tuple[int, int, int, int], mask: NDArray[np.bool_], color: Color, label: int
    ) -> None:
        ya, yb, xa, xb = box
        np.copyto(self.rgb[ya:yb, xa:xb], np.asarray(color, dtype=np.float32),
                  where=mask[..., None])
        np.copyto(self.labels[ya:yb, xa:xb], label, where=mask, casting="unsafe")

    def rows_gradient(self, y0: int, y1: int, top: Color, bottom: Color, label: int) -> None:
        """Fill full-width rows [y0, y1) with a vertical colour gradient (sky, ground)."""
        y0, y1 = max(y0, 0), min(y1, self.size)
        if y0 >= y1:
            return
        t = np.linspace(0.0, 1.0, y1 - y0, dtype=np.float32)[:, None, None]
        top_a = np.asarray(top, dtype=np.float32)
        bottom_a = np.asarray(bottom, dtype=np.float32)
        self.rgb[y0:y1] = top_a + (bottom_a - top_a) * t
        self.labels[y0:y1] = label

    def rect(self, y0: float, y1: float, x0: float, x1: float, color: Color, label: int) -> None:
        box = self._box(y0, y1, x0, x1)
        if box is None:
            return
        ya, yb, xa, xb = box
        self.rgb[ya:yb, xa:xb] = color
        self.labels[ya:yb, xa:xb] = label

    def ellipse(
        self, cy: float, cx: float, ry: float, rx: float, color: Color, label: int
    ) -> None:
        box = self._box(cy - ry, cy + ry, cx - rx, cx + rx)
        if box is None:
            return
        ya, yb, xa, xb = box
        dy = ((self.coords[ya:yb] - cy) / ry) ** 2
        dx = ((self.coords[xa:xb] - cx) / rx) ** 2
        self._paint(box, dy[:, None] + dx[None, :] <= 1.0, color, label)

    def trapezoid(
        self,
        y0: float,
        y1: float,
        cx0: float,
        half0: float,
        cx1: float,
        half1: float,
        color: Color,
        label: int,
    ) -> None:
        """Rows y0..y1; centre and half-width vary linearly from (cx0, half0) to (cx1, half1).

        half0 = 0 gives a triangle (roofs, spires, conifers); a road is a trapezoid whose top
        is the vanishing point.
        """
        xlo = min(cx0 - half0, cx1 - half1)
        xhi = max(cx0 + half0, cx1 + half1)
        box = self._box(y0, y1, xlo, xhi)
        if box is None or y1 <= y0:
            return
        ya, yb, xa, xb = box
        t = (self.coords[ya:yb] - y0) / (y1 - y0)
        centre = cx0 + (cx1 - cx0) * t
        half = half0 + (half1 - half0) * t
        mask = np.abs(self.coords[xa:xb][None, :] - centre[:, None]) <= half[:, None]
        self._paint(box, mask, color, label)

    def under_curve(
        self, curve: FloatArray, y_bottom: float, color: Color, label: int, shade: float = 0.0
    ) -> None:
        """Fill every column x from row curve[x] down to y_bottom (mountain silhouettes).

        ``shade`` darkens the lower part linearly (0 = flat colour).
        """
        top = int(max(float(curve.min()), 0.0))
        box = self._box(top, y_bottom, 0, self.size)
        if box is None:
            return
        ya, yb, xa, xb = box
        ys = self.coords[ya:yb][:, None]
        mask = ys >= curve[None, xa:xb]
        if shade:
            depth = np.clip((ys - curve[None, xa:xb]) / max(y_bottom - top, 1.0), 0.0, 1.0)
            cols = np.asarray(color, dtype=np.float32) * (1.0 - shade * depth)[..., None]
            region = self.rgb[ya:yb, xa:xb]
            region[mask] = cols[mask]
            self.labels[ya:yb, xa:xb][mask] = label
        else:
            self._paint(box, mask, color, label)

    def grid(
        self,
        y0: float,
        y1: float,
        x0: float,
        x1: float,
        step_y: float,
        step_x: float,
        fill_y: float,
        fill_x: float,
        color: Color,
        label: int,
        union: bool = False,
    ) -> None:
        """A regular pattern inside a box: cells of fill_y x fill_x every step_y x step_x.

        ``union=False`` gives windows (row AND column bands), ``union=True`` a fence (rails
        OR posts).
        """
        box = self._box(y0, y1, x0, x1)
        if box is None:
            return
        ya, yb, xa, xb = box
        rows = np.mod(self.coords[ya:yb] - y0, step_y) < fill_y
        cols = np.mod(self.coords[xa:xb] - x0, step_x) < fill_x
        mask = (rows[:, None] | cols[None, :]) if union else (rows[:, None] & cols[None, :])
        self._paint(box, mask, color, label)

    def to_uint8(self, gain: NDArray[np.float32], noise: FloatArray) -> NDArray[np.uint8]:
        """Apply a colour gain (camera/lighting), add sensor noise, clip, quantise."""
        out = self.rgb * gain
        out += noise
        np.clip(out, 0.0, 255.0, out=out)
        return out.astype(np.uint8)
