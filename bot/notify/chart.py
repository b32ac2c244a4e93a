"""A small PNG chart of one metric for alert messages.

Uses matplotlib's object-oriented API with the Agg canvas and never imports pyplot: pyplot keeps
global figure state (a leak unless closed, and not thread-safe), while a bare `Figure` is garbage
collected like any object. https://matplotlib.org/stable/gallery/user_interfaces/web_application_server_sgskip.html
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from integrations.base import MetricPoint

# Slack shows an uploaded image at most about 480 px wide in the channel; drawn at that size
# on a 2x (retina) grid, the PNG is 960x480 and stays sharp, and point sizes below are legible
# there: 1 pt is 200/72/2 = 1.4 CSS px, so 9 pt ticks read as 12.5 px text.
SHOWN_AT = (480, 240)  # CSS pixels
SCALE = 2
FIGSIZE = (4.8, 2.4)  # inches
DPI = SCALE * SHOWN_AT[0] / FIGSIZE[0]  # 200
TITLE_PT, LABEL_PT, LEGEND_PT = 10, 9, 8


def metric_chart_png(
    title: str,
    points: Sequence[MetricPoint],
    threshold: float | None = None,
    op: str | None = None,
    crossing: MetricPoint | None = None,
) -> bytes:
    """The metric by step as PNG bytes: a line, the threshold dashed, the crossing marked.

    NaN/inf values are left out of the line; the first one is marked by a dotted vertical line.
    """
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    # parse_math=False: "$" in run or metric names must not be read as TeX.
    ax.set_title(title, fontsize=TITLE_PT, parse_math=False)
    ax.set_xlabel("step", fontsize=LABEL_PT)
    ax.tick_params(labelsize=LABEL_PT)

    ordered = sorted(points, key=lambda p: p.step)
    finite = [p for p in ordered if math.isfinite(p.value)]
    if finite:
        ax.plot([p.step for p in finite], [p.value for p in finite], linewidth=1.4, color="tab:blue")
    else:
        ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes, color="gray")
    bad = next((p for p in ordered if not math.isfinite(p.value)), None)
    if bad is not None:
        ax.axvline(bad.step, linestyle=":", color="tab:red", linewidth=1, label=f"NaN/inf at step {bad.step}")
    if threshold is not None and math.isfinite(threshold):
        label = f"target {op} {threshold:g}" if op else f"target {threshold:g}"
        ax.axhline(threshold, linestyle="--", color="tab:green", linewidth=1, label=label)
    if crossing is not None and math.isfinite(crossing.value):
        ax.plot(
            [crossing.step],
            [crossing.value],
            marker="o",
            markersize=6,
            color="tab:orange",
            linestyle="none",
            label=f"crossed at step {crossing.step}",
        )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=LEGEND_PT, loc="best")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
