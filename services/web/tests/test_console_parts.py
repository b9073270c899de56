# ruff: noqa: RUF001 - Chinese texts, with full-width punctuation
"""The consoles' pure parts: the SMS counter, the server-drawn SVG charts, the builder's form and
the consoles' messages in all three languages."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from web import charts
from web.campaign_pages import Draft, monitor_figures
from web.console_messages import CONSOLE_MESSAGES
from web.sms import count_sms, encoding_of

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts", "left"),
    [
        ("", "GSM-7", 0, 0, 160),
        ("a" * 160, "GSM-7", 160, 1, 0),
        ("a" * 161, "GSM-7", 161, 2, 145),  # 153 + 8: 145 left in the second part
        ("a" * 306, "GSM-7", 306, 2, 0),
        ("a" * 307, "GSM-7", 307, 3, 152),
        ("€" * 80, "GSM-7", 160, 1, 0),  # an extension character takes two septets
        ("你" * 70, "UCS-2", 70, 1, 0),
        ("你" * 71, "UCS-2", 71, 2, 63),  # 67 + 4
        ("a" * 69 + "é", "GSM-7", 70, 1, 90),  # é is in the GSM alphabet
        ("a" * 69 + "ê", "UCS-2", 70, 1, 0),  # ê is not: the whole text goes UCS-2
        ("😀" * 35, "UCS-2", 70, 1, 0),  # beyond the BMP: two 16-bit units each
    ],
)
def test_sms_counter_counts_units_and_parts(
    text: str, encoding: str, units: int, parts: int, left: int
) -> None:
    count = count_sms(text)
    assert (count.encoding, count.units, count.parts, count.left) == (encoding, units, parts, left)


def test_a_pair_never_straddles_two_parts() -> None:
    # 152 plain septets then an escape pair: the pair would end at 154 > 153, so it opens part two.
    gsm = count_sms("a" * 152 + "€" + "a" * 10)
    assert (gsm.parts, gsm.per_part, gsm.left) == (2, 153, 153 - 12)
    # 66 units then an emoji (two units): it moves whole to the second part.
    ucs = count_sms("你" * 66 + "😀" + "你" * 5)
    assert (ucs.parts, ucs.left) == (2, 67 - 7)


def test_chinese_template_texts_are_ucs2_and_english_gsm() -> None:
    assert encoding_of("您的話費餘額約夠用三天，請及早增值，以免停機。") == "UCS-2"
    assert encoding_of("Your balance will last about three more days. Top up soon!") == "GSM-7"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own markup, drawn by the test


def test_bar_chart_is_valid_svg_with_proportional_bars_and_escaped_labels() -> None:
    svg = _parse(
        charts.bar_chart(
            [charts.Bar("<b>a</b>", 10), charts.Bar("b", 5), charts.Bar("c", None)], "Title & more"
        )
    )
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == "Title & more"
    widths = [float(r.get("width", "0")) for r in svg.iter(f"{SVG}rect")]
    assert len(widths) == 2
    assert widths[0] == pytest.approx(2 * widths[1])
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "<b>a</b>" in texts
    assert "no data" in texts


def test_bar_chart_clamps_to_the_given_maximum() -> None:
    svg = _parse(charts.bar_chart([charts.Bar("x", 2.0), charts.Bar("y", 0.5)], "t", max_value=1.0))
    widths = [float(r.get("width", "0")) for r in svg.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1])


def test_column_chart_draws_one_column_per_bucket() -> None:
    buckets = [charts.Bar(str(n), float(c)) for n, c in [(1, 40), (2, 10), (3, 0), ("10+", 4)]]
    svg = _parse(charts.column_chart(buckets, "Histogram", axis_label="touches"))
    heights = [float(r.get("height", "0")) for r in svg.iter(f"{SVG}rect")]
    assert len(heights) == 4
    assert heights[2] == 0
    assert heights[0] == pytest.approx(4 * heights[1])
    assert "10+" in [t.text for t in svg.iter(f"{SVG}text")]


def test_interval_chart_puts_the_error_bar_around_the_estimate_and_marks_significance() -> None:
    svg = _parse(charts.interval_chart(0.05, 0.02, 0.08, "Uplift"))
    dot = next(svg.iter(f"{SVG}circle"))
    whiskers = [w for w in svg.iter(f"{SVG}line") if "whisker" in (w.get("class") or "")]
    horizontal = next(w for w in whiskers if w.get("y1") == w.get("y2"))
    low_x, high_x, dot_x = (
        float(horizontal.get("x1", 0)),
        float(horizontal.get("x2", 0)),
        float(dot.get("cx", 0)),
    )
    assert low_x < dot_x < high_x
    assert "significant" in (dot.get("class") or "").split()
    zero = next(w for w in svg.iter(f"{SVG}line") if w.get("class") == "zero")
    assert float(zero.get("x1", 0)) < low_x  # zero lies left of an interval above it
    crossing = _parse(charts.interval_chart(0.01, -0.02, 0.04, "Uplift"))
    assert "uncertain" in (next(crossing.iter(f"{SVG}circle")).get("class") or "")
    assert "no data" in str(charts.interval_chart(None, None, None, "Uplift"))


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert charts.nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = charts.nice_ticks(-0.033, 0.071)
    assert ticks[0] >= -0.033
    assert ticks[-1] <= 0.071
    assert 0.0 in ticks


def test_grouped_bars_keep_groups_and_legend() -> None:
    markup = str(
        charts.grouped_bars(
            [("treatment", [charts.Bar("before", 0.1, "before"), charts.Bar("after", 0.05, "after")])],
            "Complaints",
            [("before", "before"), ("after", "after")],
        )
    )
    assert "treatment · before" in markup
    assert 'class="chart-legend"' in markup


def test_the_builder_form_round_trips_a_template_draft() -> None:
    body = {
        "kind": "birthday_greeting",
        "name": "Birthday",
        "goal": "Remembered",
        "audience": {"field": "birthday", "op": "within_days", "value": 0},
        "trigger": {"type": "schedule", "cron": "0 9 * * *", "time_zone": "Asia/Hong_Kong"},
        "channel": "sms",
        "content": {"zh-Hant": "生日快樂", "en": "Happy birthday"},
        "cap_per_customer": 20,
        "min_gap_days": 300,
        "control_share": 0.1,
        "conversion": None,
    }
    errors: dict[str, str] = {}
    again = Draft.from_api(body).to_body(errors)
    assert not errors
    assert again["audience"] == body["audience"]
    assert again["trigger"] == body["trigger"]
    assert again["control_share"] == pytest.approx(0.1)
    assert again["content"] == body["content"]
    assert "conversion" not in again


def test_the_builder_form_names_what_it_cannot_read() -> None:
    draft = Draft(kind="x", audience="{not json", control_share="70", trigger_type="once", at="soon")
    errors: dict[str, str] = {}
    draft.to_body(errors)
    assert set(errors) == {"audience", "control_share", "at"}


def test_monitor_figures_count_sent_and_beyond() -> None:
    counts = {
        "targeted": 10,
        "held_out": 2,
        "by_outcome": {"accepted": 1, "sent": 2, "delivered": 5, "failed": 1, "suppressed": 1},
        "suppressed": {"opted_out": 1},
        "converted": None,
    }
    assert dict(monitor_figures(counts)) == {
        "targeted": 10,
        "held_out": 2,
        "suppressed": 1,
        "sent": 8,
        "delivered": 5,
        "failed": 1,
        "converted": None,
    }


def test_console_messages_are_whole_in_all_three_languages() -> None:
    import string

    for key, row in CONSOLE_MESSAGES.items():
        assert len(row) == 3, key
        assert all(text.strip() for text in row), key
        names = [{n for _, n, _, _ in string.Formatter().parse(text) if n} for text in row]
        assert names[0] == names[1] == names[2], key


def _page(language: str = "en") -> Any:
    from types import SimpleNamespace

    from web.i18n import translator

    return SimpleNamespace(t=translator(language))


def test_the_evaluation_draws_every_chart_the_platform_reports() -> None:
    from web.campaign_pages import evaluation_charts

    result = {
        "conversion": {"event": "payment.received", "within_days": 3, "absent": False},
        "treatment": {"members": 900, "converted": 450, "rate": 0.5},
        "control": {"members": 100, "converted": 40, "rate": 0.4},
        "uplift": 0.1,
        "uplift_low": 0.0,
        "uplift_high": 0.2,
        "significant": False,
        "complaints": {
            "window_days": 30,
            "started_at": None,
            "treatment": {"members": 900, "before": 0.04, "after": 0.02},
            "control": {"members": 100, "before": 0.05, "after": None},
        },
        "churn": {
            "treatment": {"members": 900, "left": 9, "rate": 0.01},
            "control": {"members": 100, "left": 3, "rate": 0.03},
        },
        "survey": {"answered": 10, "satisfied": 6, "dissatisfied": 2, "other": 2, "satisfaction": 0.75},
    }
    drawn = evaluation_charts(_page(), result)
    assert set(drawn) == {"uplift", "conversion", "complaints", "churn", "survey"}
    for name, markup in drawn.items():
        svg = str(markup).split('<ul class="chart-legend">')[0]
        _parse(svg)  # well-formed
        assert 'role="img"' in svg, name
    assert "+10.0 pp [+0.0 pp, +20.0 pp]" in str(drawn["uplift"])
    assert "50.0 %" in str(drawn["conversion"])
    assert "no data yet" in str(drawn["complaints"])
    older = {k: v for k, v in result.items() if k not in ("complaints", "churn", "survey")}
    assert set(evaluation_charts(_page("zh-Hant"), older)) == {"uplift", "conversion"}


def test_the_dashboard_charts_show_compliance_and_trends() -> None:
    from web.supervisor_pages import dashboard_charts

    clock = {"breached": 1, "compliance": 0.75}
    summary = {"sla": {"first_response": clock, "next_update": clock, "resolution": clock}, "fcr_rate": None}
    weeks = {"items": [{"key": "2026-W48", "complaints": 3}, {"key": "2026-W49", "complaints": 1}]}
    categories = {"items": [{"key": "coverage", "complaints": 3}, {"key": None, "complaints": 1}]}
    drawn = dashboard_charts(_page("zh-Hans"), summary, weeks, categories)
    assert "75.0 %" in str(drawn["sla"])
    assert "暂无数据" in str(drawn["sla"])
    assert "2026-W48" in str(drawn["weeks"])
    assert "网络覆盖" in str(drawn["categories"])
    for markup in drawn.values():
        _parse(str(markup))
