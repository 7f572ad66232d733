"""The gate's page (`compare --html OUT`): the verdict table, each case's interval and MDE drawn against the
threshold band as a forest plot (inline SVG: the page is one self-contained file).

It reads the verdict document that `compare --json` writes (reports.across.to_json), so the page and the
JSON never disagree.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2

ROW_H = 22
LEFT = 360  # room for the case names
PLOT_W = 520
COLOURS = {
    "regression": "#c62828",
    "improvement": "#1a7f37",
    "unchanged": "#5b6670",
    "inconclusive": "#b35c00",
}

PAGE = jinja2.Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>devicebench gate: {{ title }}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; color: #1d2329; max-width: 1180px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; } .meta, .note { color: #5b6670; font-size: 0.9rem; }
.wrap { overflow-x: auto; max-width: 100%; } table { border-collapse: collapse; font-size: 0.88rem; }
th, td { padding: 4px 10px; border-bottom: 1px solid #d8dee4; text-align: left; white-space: nowrap; }
th { background: #f5f7f9; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict-regression { color: #c62828; font-weight: 700; } .verdict-improvement { color: #1a7f37; }
.exit { font-size: 1.1rem; font-weight: 600; padding: 8px 12px; background: #f5f7f9; border-left: 4px solid
 {{ "#c62828" if exit_code == 1 else "#0b6bcb" }}; }
</style></head><body>
<h1>Gate: {{ title }}</h1>
<p class="meta">Built {{ generated }}. Baseline <code>{{ baseline }}</code>, current <code>{{ current }}</code>.
{% if report %}The current run's report: <a href="{{ report }}">{{ report }}</a>.{% endif %}</p>
<p class="exit">Exit {{ exit_code }}: {{ summary }}</p>
{% for note in notes %}<p class="note">{{ note }}</p>{% endfor %}
<h2>Each case against the threshold</h2>
<div class="wrap">{{ svg | safe }}</div>
<p class="note">Current time over baseline time (log scale; right is slower). The bar is the case's interval
({{ confidence }}), the dot its estimate; the shaded band is the threshold (±{{ threshold }}); the open
diamond is the MDE, the smallest slowdown this gate could have seen for the case (none drawn: more rounds needed).</p>
<h2>Verdicts</h2>
<div class="wrap"><table>
<thead><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in rows %}<tr>{% for value in row %}<td class="{{ 'num' if loop.index0 > 1 else '' }}
{{- ' verdict-' ~ value if loop.index0 == 1 else '' }}">{{ value }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>
</body></html>
""",
    autoescape=True,
)


def _estimate(case: Mapping[str, Any]) -> tuple[float | None, float | None, float | None, float | None]:
    """(ratio, low, high, mde) of a case: across runs where judged so, else within the run."""
    across = case.get("across") or {}
    ratio = across.get("ratio") if across.get("ratio") is not None else case.get("ratio")
    low = across.get("ci_low") if across.get("ci_low") is not None else case.get("ci_low")
    high = across.get("ci_high") if across.get("ci_high") is not None else case.get("ci_high")
    mde = across.get("mde") if across.get("mde") is not None else case.get("mde")
    return ratio, low, high, mde


def _finite(*values: float | None) -> list[float]:
    """The positive finite values among `values`."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v)) and float(v) > 0]


def forest_svg(cases: Sequence[Mapping[str, Any]], threshold: float) -> str:
    """The forest plot: one row per judged case, on a log axis of current/baseline time."""
    rows = [c for c in cases if _estimate(c)[0] is not None]
    spread = _finite(*(v for c in rows for v in _estimate(c)[:3]), 1 + threshold, 1 / (1 + threshold))
    lo, hi = (min(spread), max(spread)) if spread else (0.5, 2.0)
    lo, hi = math.log(lo) - 0.05, math.log(hi) + 0.05

    def x(value: float) -> float:
        """The x position of a ratio."""
        return LEFT + (math.log(value) - lo) / (hi - lo) * PLOT_W

    height = ROW_H * (len(rows) + 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + PLOT_W + 20}" height="{height}" '
        f'font-family="sans-serif" font-size="11" role="img" aria-label="forest plot of the gate">',
        f'<rect x="{x(1 / (1 + threshold)):.1f}" y="0" width="{x(1 + threshold) - x(1 / (1 + threshold)):.1f}" '
        f'height="{height - ROW_H}" fill="#e8f0fb"/>',
        f'<line x1="{x(1):.1f}" x2="{x(1):.1f}" y1="0" y2="{height - ROW_H}" stroke="#5b6670" stroke-dasharray="3,3"/>',
    ]
    for tick in (0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0):
        if lo <= math.log(tick) <= hi:
            parts.append(
                f'<text x="{x(tick):.1f}" y="{height - 6}" text-anchor="middle" fill="#5b6670">{tick:g}×</text>'
            )
    for i, case in enumerate(rows):
        y = ROW_H * (i + 1)
        ratio, low, high, mde = _estimate(case)
        colour = COLOURS.get(str(case.get("verdict")), "#5b6670")
        name = html.escape(str(case.get("name")))
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4}" text-anchor="end">{name}</text>')
        if low is not None and high is not None and _finite(low, high) == [low, high]:
            parts.append(
                f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="3"/>'
            )
        parts.append(f'<circle cx="{x(ratio):.1f}" cy="{y}" r="4" fill="{colour}"><title>{name}: '
                     f"{ratio:.3f}×</title></circle>")  # fmt: skip
        if mde is not None and _finite(1 + mde) and lo <= math.log(1 + mde) <= hi:
            cx = x(1 + mde)
            parts.append(
                f'<path d="M{cx:.1f},{y - 5} l5,5 l-5,5 l-5,-5 z" fill="none" stroke="{colour}"><title>MDE '
                f"{mde:.1%}</title></path>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def _cell(value: Any, kind: str = "") -> str:
    """A verdict table cell."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if kind == "ratio":
        return f"{float(value):.3f}×"
    if kind == "share":
        return f"{float(value):.1%}"
    return str(value)


def gate_page(verdicts: Mapping[str, Any], report: str | None = None, generated: dt.datetime | None = None) -> str:
    """The gate page of a verdict document (reports.across.to_json); `report` links the current run's report."""
    cases = list(verdicts.get("cases", []))
    threshold = float(verdicts.get("options", {}).get("threshold", 0.10))
    columns = ["case", "verdict", "current/baseline", "interval low", "high", "MDE", "threshold"]
    rows = []
    for case in cases:
        ratio, low, high, mde = _estimate(case)
        rows.append(
            [str(case.get("name")), str(case.get("verdict")), _cell(ratio, "ratio"), _cell(low, "ratio"),
             _cell(high, "ratio"), _cell(mde, "share"), _cell(case.get("threshold"), "share")]
        )  # fmt: skip
    summary = ", ".join(f"{n} {verdict}" for verdict, n in verdicts.get("summary", {}).items() if n)
    alpha = verdicts.get("options", {}).get("alpha")
    return PAGE.render(
        title=f"{verdicts.get('current', {}).get('host', '')} {verdicts.get('current', {}).get('path', '')}",
        generated=(generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        baseline=verdicts.get("baseline", {}).get("path", ""),
        current=verdicts.get("current", {}).get("path", ""),
        report=report,
        exit_code=verdicts.get("exit_code"),
        summary=summary or "no cases",
        notes=[*verdicts.get("notes", []), (verdicts.get("resolution") or {}).get("line", "")],
        svg=forest_svg(cases, threshold),
        threshold=f"{threshold:.0%}",
        confidence=f"{1 - float(alpha):.0%} confidence" if alpha is not None else "its confidence interval",
        columns=columns,
        rows=rows,
    )
