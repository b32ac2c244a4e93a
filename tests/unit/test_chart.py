import gc
import io
import math
import sys
import time
from datetime import UTC, datetime

import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from bot.notify.chart import LABEL_PT, SCALE, SHOWN_AT, metric_chart_png
from integrations.base import MetricPoint

CURRENT_TIME = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pts(values):
    return [MetricPoint(step=10 * i, value=v, at=CURRENT_TIME) for i, v in enumerate(values)]


def image_size(png: bytes) -> tuple[int, int]:
    height, width = imread(io.BytesIO(png), format="png").shape[:2]
    return width, height


@pytest.mark.parametrize(
    ("points", "threshold", "op", "crossing"),
    [
        (pts([0.5, 0.7, 0.85, 0.91, 0.93]), 0.9, ">=", MetricPoint(40, 0.93, CURRENT_TIME)),
        (pts([2.0, 1.1, math.nan, math.inf, 0.4]), 0.5, "<=", None),
        (pts([2.0, 1.1, -math.inf]), None, None, None),
        (pts([math.nan, math.nan]), 0.9, ">=", None),
        ([], 0.9, ">=", None),
        ([], None, None, None),
        (pts([0.3]), math.nan, ">=", MetricPoint(0, math.nan, CURRENT_TIME)),
        (list(reversed(pts([0.1, 0.2, 0.3]))), 0.25, ">", MetricPoint(20, 0.3, CURRENT_TIME)),
    ],
)
def test_renders_png(points, threshold, op, crossing):
    png = metric_chart_png("val_acc · run-42", points, threshold, op, crossing)
    assert png.startswith(PNG_MAGIC)
    assert image_size(png) == (960, 480)  # 2x the 480x240 Slack shows it at: sharp on retina screens
    assert len(png) < 100_000  # light enough to upload with every alert


def test_chart_is_legible_at_the_size_slack_shows_it_and_quick_to_draw():
    assert SHOWN_AT == (480, 240) and SCALE == 2
    shown_px_per_pt = 960 / 4.8 / 72 / SCALE  # the figure is 4.8 in wide, shown 480 px wide
    assert LABEL_PT * shown_px_per_pt >= 12  # tick and axis labels read as 12 px text or more
    points = pts([1 / (1 + i) for i in range(2000)])
    metric_chart_png("warm-up", points[:2], None, None, None)  # font caches, as after the first alert
    started = time.perf_counter()
    metric_chart_png("loss · run-7", points, 0.01, "<=", points[1500])
    assert time.perf_counter() - started < 1.0  # drawn in the dispatcher, per alert


def test_dollar_signs_in_title_are_not_tex():
    # "$x_$" is invalid mathtext; rendering it as TeX would raise
    assert metric_chart_png("cost $x_$ run", pts([1.0, 2.0]), None, None, None).startswith(PNG_MAGIC)


def test_no_pyplot_global_state():
    before = None
    if "matplotlib.pyplot" in sys.modules:
        before = sys.modules["matplotlib.pyplot"].get_fignums()
    metric_chart_png("loss", pts([1.0, 0.5]), 0.2, "<", None)
    if before is None:
        assert "matplotlib.pyplot" not in sys.modules
    else:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == before


def live_figures() -> int:
    gc.collect()
    return sum(isinstance(o, Figure) for o in gc.get_objects())


def test_figures_are_not_retained_across_renders():
    # Cheaper than tracemalloc over hundreds of renders: a leak would be a Figure kept alive
    # (pyplot's figure manager, a cache); count live Figures instead.
    points = pts([i / 50 for i in range(50)])
    before = live_figures()
    for _ in range(5):
        metric_chart_png("acc", points, 0.5, ">=", points[25])
    assert live_figures() == before
