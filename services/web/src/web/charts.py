"""Charts as inline SVG, drawn on the server: no chart library, no script, nothing from elsewhere.

Each function returns safe markup: an ``<svg role="img">`` whose ``aria-label`` and ``<title>`` say
what it shows, with every value written beside its mark, so the figure reads without colour and
a screen reader hears the numbers. Colours come from classes styled in ``consoles.css`` (the
pages' CSP admits no inline style). Sizes are in the viewBox; the SVG scales to its container.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Format = Callable[[float], str]


@dataclass(frozen=True)
class Bar:
    """One mark: its label, its value (None: no data) and a class naming its colour."""

    label: str
    value: float | None
    tone: str = ""


def plain(value: float) -> str:
    """Format a count or measure: whole numbers without decimals."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def percent(value: float) -> str:
    """Format a share (0.123) as a percentage (12.3 %)."""
    return f"{value * 100:.1f} %"


def points(value: float) -> str:
    """Format a difference of shares as percentage points with its sign (+2.0 pp)."""
    return f"{value * 100:+.1f} pp"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Return round tick values covering ``low`` … ``high`` (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12) + 0.0)  # + 0.0 turns -0.0 into 0.0
        value += step
    return ticks


def _svg(width: int, height: int, title: str, body: list[str], css: str) -> Markup:
    label = escape(title)
    # Every value inside was escaped or formatted from numbers by this module.
    return Markup(  # noqa: S704
        f'<svg class="chart {css}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>{"".join(body)}</svg>'
    )


def _text(x: float, y: float, text: str, css: str = "", anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}" '
        f'dominant-baseline="middle">{escape(text)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, css: str) -> str:
    return f'<line class="{css}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>'


def bar_chart(
    bars: Sequence[Bar],
    title: str,
    fmt: Format = plain,
    max_value: float | None = None,
    no_data: str = "no data",
    width: int = 560,
) -> Markup:
    """Horizontal bars, one row each: label, bar, value (``no_data`` where the value is None)."""
    label_w, value_w, row_h, top = 170, 90, 30, 8
    area = width - label_w - value_w
    values = [b.value for b in bars if b.value is not None]
    scale_max = max_value if max_value is not None else max([v for v in values if v > 0], default=1.0)
    height = top * 2 + row_h * max(len(bars), 1)
    body: list[str] = []
    for index, bar in enumerate(bars):
        y = top + index * row_h
        middle = y + row_h / 2
        body.append(_text(label_w - 8, middle, bar.label, "label", "end"))
        if bar.value is None:
            body.append(_text(label_w + 4, middle, no_data, "muted"))
            continue
        length = 0.0 if scale_max <= 0 else max(0.0, min(bar.value / scale_max, 1.0)) * area
        body.append(
            f'<rect class="bar {escape(bar.tone)}" x="{label_w}" y="{y + 5}" width="{length:.1f}" '
            f'height="{row_h - 10}" rx="2">'
            f"<title>{escape(bar.label)}: {escape(fmt(bar.value))}</title></rect>"
        )
        body.append(_text(label_w + length + 6, middle, fmt(bar.value), "value"))
    body.append(f'<line class="axis" x1="{label_w}" y1="{top}" x2="{label_w}" y2="{height - top}"/>')
    return _svg(width, height, title, body, "bars")


def column_chart(
    bars: Sequence[Bar], title: str, fmt: Format = plain, axis_label: str = "", width: int = 560
) -> Markup:
    """Vertical columns (a histogram): value above each column, its label below."""
    height, left, right, top, bottom = 240, 12, 12, 24, 44
    count = max(len(bars), 1)
    slot = (width - left - right) / count
    column_w = min(slot * 0.7, 64.0)  # one week alone is a column, not a wall
    scale_max = max([b.value for b in bars if b.value is not None and b.value > 0], default=1.0)
    plot_h = height - top - bottom
    base = height - bottom
    body: list[str] = [f'<line class="axis" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"/>']
    for index, bar in enumerate(bars):
        x = left + index * slot
        value = bar.value or 0.0
        column_h = max(0.0, value / scale_max) * plot_h
        body.append(
            f'<rect class="bar {escape(bar.tone)}" x="{x + (slot - column_w) / 2:.1f}" '
            f'y="{base - column_h:.1f}" width="{column_w:.1f}" height="{column_h:.1f}" rx="2">'
            f"<title>{escape(bar.label)}: {escape(fmt(value))}</title></rect>"
        )
        body.append(_text(x + slot / 2, base - column_h - 10, fmt(value), "value", "middle"))
        body.append(_text(x + slot / 2, base + 14, bar.label, "label", "middle"))
    if axis_label:
        body.append(_text(width / 2, height - 10, axis_label, "muted", "middle"))
    return _svg(width, height, title, body, "columns")


def interval_chart(
    estimate: float | None,
    low: float | None,
    high: float | None,
    title: str,
    label: str = "",
    fmt: Format = points,
    no_data: str = "no data",
    width: int = 560,
) -> Markup:
    """An estimate as a dot with its confidence interval as an error bar, against a zero line."""
    height, left, right, middle = 120, 44, 44, 48
    if estimate is None or low is None or high is None:
        return _svg(width, 60, title, [_text(width / 2, 30, no_data, "muted", "middle")], "interval")
    lo, hi = min(low, estimate, 0.0), max(high, estimate, 0.0)
    pad = (hi - lo) * 0.1 or 0.01
    lo, hi = lo - pad, hi + pad

    def x(value: float) -> float:
        return left + (value - lo) / (hi - lo) * (width - left - right)

    body = [f'<line class="axis" x1="{left}" y1="{middle + 34}" x2="{width - right}" y2="{middle + 34}"/>']
    for tick in nice_ticks(lo, hi):
        body.append(_line(x(tick), middle + 34, x(tick), middle + 39, "tick"))
        body.append(_text(x(tick), middle + 50, fmt(tick), "muted", "middle"))
    body.append(f'<line class="zero" x1="{x(0):.1f}" y1="12" x2="{x(0):.1f}" y2="{middle + 34}"/>')
    tone = "significant" if low > 0 or high < 0 else "uncertain"
    body.append(
        f'<line class="whisker {tone}" x1="{x(low):.1f}" y1="{middle}" x2="{x(high):.1f}" y2="{middle}"/>'
    )
    for end in (low, high):
        body.append(_line(x(end), middle - 10, x(end), middle + 10, f"whisker {tone}"))
    body.append(f'<circle class="estimate {tone}" cx="{x(estimate):.1f}" cy="{middle}" r="6"/>')
    caption = f"{label} {fmt(estimate)} [{fmt(low)}, {fmt(high)}]".strip()
    body.append(_text(x(estimate), 18, caption, "value", "middle"))
    return _svg(width, height, title, body, "interval")


def grouped_bars(
    groups: Sequence[tuple[str, Sequence[Bar]]],
    title: str,
    legend: Sequence[tuple[str, str]] = (),
    fmt: Format = percent,
    no_data: str = "no data",
    width: int = 560,
) -> Markup:
    """Horizontal bars in groups (e.g. before and after, per arm), with a legend of the tones."""
    flat: list[Bar] = []
    for name, bars in groups:
        flat.extend(Bar(f"{name} · {bar.label}", bar.value, bar.tone) for bar in bars)
    chart = bar_chart(flat, title, fmt, None, no_data, width)
    if not legend:
        return chart
    keys = "".join(f'<li class="{escape(tone)}">{escape(text)}</li>' for tone, text in legend)
    return Markup(f'{chart}<ul class="chart-legend">{keys}</ul>')  # noqa: S704 - escaped above
