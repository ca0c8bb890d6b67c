"""Inline charts (SVG, or HTML bars), drawn here in Python so the report needs no JavaScript library."""

from __future__ import annotations

import html
import re

from twinbench.report.load import GroupRate

# C0 controls and DEL would be invisible (or dropped) in a page: show them as Unicode control pictures.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
HISTOGRAM_BINS = 11  # ten bins of width 0.1 below 1.0, and one for resolved tasks (score 1.0)


def esc(value: object) -> str:
    """Text made safe for an HTML element or attribute: escaped, controls made visible, valid UTF-8."""
    text = _CONTROL.sub(lambda m: chr(0x2421 if m.group() == "\x7f" else 0x2400 + ord(m.group())), str(value))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes cannot be written as UTF-8
        text = text.encode("utf-8", "replace").decode("utf-8")
    return html.escape(text, quote=True)


def score_color(score: float, lightness: int = 85) -> str:
    """Red for 0 through amber to green for 1."""
    hue = round(120 * min(1.0, max(0.0, score)))
    return f"hsl({hue}, 65%, {lightness}%)"


def score_bins(scores: list[float]) -> list[int]:
    """How many scores fall in each histogram bin."""
    bins = [0] * HISTOGRAM_BINS
    for score in scores:
        bins[HISTOGRAM_BINS - 1 if score >= 1.0 else min(9, max(0, int(score * 10)))] += 1
    return bins


def score_histogram(scores: list[float], color: str, label: str) -> str:
    """A histogram of per-task scores: bars for 0-0.1, ..., 0.9-1 and a last bar for resolved tasks."""
    bins = score_bins(scores)
    width, height, left, right, top, bottom = 400, 200, 34, 8, 18, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / HISTOGRAM_BINS
    peak = max(bins) or 1
    parts = [
        f'<svg class="hist" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"'
        f' aria-label="{esc(label)}"><title>{esc(label)}</title>',
        f'<line x1="{left}" y1="{top}" x2="{width - right}" y2="{top}" stroke="#e5e7eb"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end">0</text>',
    ]
    for index, count in enumerate(bins):
        x = left + index * step
        bar_h = plot_h * count / peak
        last = index == HISTOGRAM_BINS - 1
        lower = "1" if last else f".{index}" if index else "0"
        span = "score 1 (resolved)" if last else f"score {index / 10:.1f} to {index / 10 + 0.1:.1f}"
        fill = "#1a7f37" if last else color
        if count:
            parts.append(
                f'<rect x="{x + 2:.1f}" y="{top + plot_h - bar_h:.1f}" width="{step - 4:.1f}" height="{bar_h:.1f}"'
                f' fill="{fill}"><title>{span}: {count} tasks</title></rect>'
                f'<text x="{x + step / 2:.1f}" y="{top + plot_h - bar_h - 4:.1f}" text-anchor="middle">{count}</text>'
            )
        parts.append(f'<text x="{x + step / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{lower}</text>')
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#57606a"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" class="axis">'
        "score (last bar: resolved)</text></svg>"
    )
    return "".join(parts)


def group_table(groups: list[GroupRate]) -> str:
    """Pass rate of each test group as table rows with a bar: readable at any width, unlike a scaled SVG."""
    rows = []
    for group in groups:
        rows.append(
            f'<tr><td class="name">{esc(group.group)}</td>'
            f'<td><span class="rate" title="{100 * group.rate:.0f}% passed"><span style="width:{100 * group.rate:.1f}%;'
            f'background:{score_color(group.rate, 42)}"></span></span></td>'
            f'<td class="num nowrap">{group.passed}/{group.total} ({100 * group.rate:.0f}%)</td></tr>'
        )
    return f'<div class="scroll"><table class="groups"><tbody>{"".join(rows)}</tbody></table></div>'
