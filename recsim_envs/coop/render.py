"""Drawing the network the way the paper shows it: nodes coloured by strategy (and by recommender in competition).

Pure numpy raster (no matplotlib): nodes on a circle ordered by index, edges as faint straight lines (darker
where many overlap), node discs blue = cooperator, red = defector; in competition a ring around each node shows
its recommender (grey = default, then a fixed palette). The rewire being decided is highlighted.
:func:`draw_network` puts that raster (:func:`network_raster`) in a fixed-size frame
(:mod:`recsim_envs.utils.plotting`) with a title and a legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from recsim_envs.utils.plotting import figure_frame, legend_patches

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_C = np.array([40, 90, 220], dtype=np.uint8)
_D = np.array([220, 50, 40], dtype=np.uint8)
_RECS = np.array(
    [[150, 150, 150], [20, 170, 60], [250, 170, 20], [150, 60, 200], [0, 180, 190], [120, 80, 40]], dtype=np.uint8
)


def draw_network(
    adjacency: np.ndarray,
    strategy: np.ndarray,
    recommender: np.ndarray | None = None,
    focus: tuple[int, int] | None = None,
    size: int = 400,
    title: str = "",
) -> np.ndarray:
    """Fixed-size frame of :func:`network_raster` with a title and a legend (strategies, recommenders, rewire)."""
    raster = network_raster(adjacency, strategy, recommender, focus, size)

    def draw(ax: Axes) -> None:
        ax.imshow(raster, interpolation="nearest")
        ax.set_axis_off()
        strat = np.asarray(strategy)
        ax.set_title(title or f"{len(strat)} nodes, cooperators {strat.mean():.0%}", fontsize=10)
        items: list[tuple[Sequence[int] | np.ndarray, str]] = [(_C, "cooperator"), (_D, "defector")]
        if recommender is not None:
            items += [(_RECS[r % len(_RECS)], f"recommender {r}") for r in np.unique(recommender)]
        if focus is not None:
            items += [((0, 0, 0), "node rewiring"), ((255, 215, 0), "link dropped")]
        legend_patches(ax, items, loc="upper right", bbox_to_anchor=(1.08, 1.0))

    return figure_frame(draw, lambda: raster)


def network_raster(
    adjacency: np.ndarray,
    strategy: np.ndarray,
    recommender: np.ndarray | None = None,
    focus: tuple[int, int] | None = None,
    size: int = 400,
) -> np.ndarray:
    """uint8 [size, size, 3] image of one replica's graph (``adjacency`` [N, N] 0/1, ``strategy`` [N] 1 = C)."""
    n = len(strategy)
    img = np.full((size, size, 3), 255, dtype=np.float64)
    ang = 2 * np.pi * np.arange(n) / n
    rad = 0.44 * size
    xy = np.stack([size / 2 + rad * np.cos(ang), size / 2 + rad * np.sin(ang)], axis=1)
    src, dst = np.nonzero(np.triu(adjacency, 1))
    if len(src):
        t = np.linspace(0.0, 1.0, 48)[None, :, None]
        pts = xy[src, None, :] * (1 - t) + xy[dst, None, :] * t  # [E, 48, 2]
        px = np.clip(pts.reshape(-1, 2).round().astype(np.int64), 0, size - 1)
        hits = np.zeros((size, size))
        np.add.at(hits, (px[:, 1], px[:, 0]), 1.0)
        shade = 1.0 - np.exp(-0.35 * hits)  # overlap darkens toward grey
        img -= (shade * 150.0)[:, :, None]
    node_r = max(2, min(8, int(0.9 * size / max(n, 1))))
    yy, xx = np.mgrid[-node_r - 2 : node_r + 3, -node_r - 2 : node_r + 3]
    dist = np.hypot(yy, xx)
    for role, mask in (("ring", dist <= node_r + 2), ("disc", dist <= node_r)):
        oy, ox = np.nonzero(mask)
        oy = oy - node_r - 2
        ox = ox - node_r - 2
        cy = np.clip(xy[:, 1, None].round().astype(np.int64) + oy[None, :], 0, size - 1)
        cx = np.clip(xy[:, 0, None].round().astype(np.int64) + ox[None, :], 0, size - 1)
        if role == "ring":
            if recommender is None:
                continue
            colors = _RECS[np.asarray(recommender) % len(_RECS)]
        else:
            colors = np.where(np.asarray(strategy)[:, None] == 1, _C, _D)
        img[cy, cx] = colors[:, None, :]
    if focus is not None:
        a, b = focus
        for v, col in ((a, (0, 0, 0)), (b, (255, 215, 0))):
            x0, y0 = xy[v].round().astype(int)
            img[max(0, y0 - node_r - 4) : y0 + node_r + 5, max(0, x0 - node_r - 4) : x0 + node_r + 5] = col
            img[max(0, y0 - node_r) : y0 + node_r + 1, max(0, x0 - node_r) : x0 + node_r + 1] = (
                _C if strategy[v] == 1 else _D
            )
    return np.clip(img, 0, 255).astype(np.uint8)
