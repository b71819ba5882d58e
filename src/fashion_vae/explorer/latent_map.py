"""The latent map: test codes on the plane of the two main directions, as a clickable picture.

The picture is drawn once, at start-up; a click arrives as pixel coordinates of the picture,
which `MapView` turns back into a point of the plane.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_SIZE_INCHES = (7.2, 5.6)
_DPI = 100
# Room the plane leaves around the points: a share of their spread on each side.
_MARGIN = 0.05


@dataclass(frozen=True)
class MapView:
    """Where the plane lies in the picture: the axes' box in pixels (origin top left), limits."""

    left: float
    top: float
    width: float
    height: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def to_plane(self, px: float, py: float) -> tuple[float, float]:
        """The point of the plane drawn at pixel (px, py) of the picture."""
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        x = x0 + (px - self.left) / self.width * (x1 - x0)
        y = y1 - (py - self.top) / self.height * (y1 - y0)
        return float(x), float(y)

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Where points of the plane (N × 2) are drawn, in pixels (N × 2: x right, y down)."""
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        px = self.left + (points[:, 0] - x0) / (x1 - x0) * self.width
        py = self.top + (y1 - points[:, 1]) / (y1 - y0) * self.height
        return np.stack([px, py], axis=1)


def draw_map(
    points: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
) -> tuple[np.ndarray, MapView]:
    """The scatter of points (N × 2) coloured by class, as an RGB picture, and where it lies."""
    figure = Figure(figsize=_SIZE_INCHES, dpi=_DPI, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots()
    for label, name in enumerate(class_names):
        chosen = labels == label
        axes.scatter(*points[chosen].T, s=9, color=f"C{label}", label=name)
    low, high = points.min(axis=0), points.max(axis=0)
    pad = _MARGIN * np.maximum(high - low, 1e-6)
    axes.set(
        xlim=(low[0] - pad[0], high[0] + pad[0]),
        ylim=(low[1] - pad[1], high[1] + pad[1]),
        xlabel="direction 1 (standard deviations)",
        ylabel="direction 2 (standard deviations)",
    )
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    canvas.draw()
    picture = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    box = axes.get_window_extent()  # pixels, origin bottom left
    view = MapView(
        left=float(box.x0),
        top=float(picture.shape[0] - box.y1),
        width=float(box.width),
        height=float(box.height),
        xlim=tuple(map(float, axes.get_xlim())),
        ylim=tuple(map(float, axes.get_ylim())),
    )
    return picture, view


def nearest_point(
    view: MapView, points: np.ndarray, px: float, py: float, radius: float
) -> int | None:
    """The index of the point drawn nearest pixel (px, py), if within `radius` pixels."""
    distances = np.hypot(*(view.to_pixels(points) - np.array([px, py])).T)
    index = int(np.argmin(distances))
    return index if distances[index] <= radius else None
