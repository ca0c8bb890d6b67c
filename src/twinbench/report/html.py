"""The HTML report: one self-contained file with inline CSS and SVG, safe to open whatever the results hold."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import twinbench
from twinbench.report.charts import esc, score_bins, score_histogram
from twinbench.report.details import details_section, flag_badge, humane_key, score_badge
from twinbench.report.load import Run, TaskResult, load_runs
from twinbench.report.rank import LeaderboardRow, leaderboard, task_ids
from twinbench.report.sizes import scores_by_size, task_size_records

RUN_COLORS = ("#0969da", "#8250df", "#bf3989", "#bc4c00", "#1b7c83", "#4d2d00", "#6e7781", "#116329")
# Below this many tasks a histogram says less than the tasks table above it.
HISTOGRAM_MIN_TASKS = 4
LIVE_POLL_MS = 2000

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"DejaVu Sans",sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:26px;margin:8px 0 2px}h2{font-size:20px;margin:32px 0 10px;padding-bottom:4px;
border-bottom:1px solid #d0d7de}h3{font-size:17px;margin:22px 0 8px}h4{font-size:14px;margin:14px 0 6px}
.sub{color:#57606a}nav a{margin-right:14px;white-space:nowrap}a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
.scroll{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;background:#fff;border:1px solid #d0d7de;margin:6px 0}
th,td{padding:5px 10px;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.name{white-space:nowrap}
.score{display:inline-block;min-width:46px;padding:0 6px;border-radius:4px;text-align:center;
font-variant-numeric:tabular-nums;font-weight:600}
.meanbar{display:inline-block;height:8px;background:#0969da;border-radius:4px;vertical-align:middle;margin-left:6px}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;margin-right:4px;
background:#eaeef2;color:#1f2328;white-space:nowrap}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}.warn{background:#fff8c5;color:#7d4e00}
.st-passed{background:#dafbe1;color:#116329}.st-failed{background:#ffebe9;color:#a40e26}
.st-timeout,.st-crashed{background:#fff1e5;color:#953800}.st-error,.st-not_run{background:#eaeef2;color:#57606a}
.sev-critical,.sev-high,.sev-error{background:#cf222e;color:#fff}.sev-medium,.sev-warning{background:#fb8f44;color:#fff}
.sev-low{background:#fff8c5;color:#7d4e00}.sev-info,.sev-other{background:#ddf4ff;color:#0a3069}
.flag-msg{font-size:12px;color:#57606a}tr.has-flag td{border-bottom:none}tr.flag-row td{padding-top:0}
td:first-child{white-space:nowrap}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:10px 0;min-width:0}
.card-head{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center}
.card-head code,.note code{overflow-wrap:anywhere}
.hists{display:flex;flex-wrap:wrap;gap:12px}.hists .card{margin:0;max-width:100%}
svg.hist{max-width:100%;height:auto}
.missing{color:#8c959f}.uncounted{opacity:.55}.nowrap,.runname{white-space:nowrap}
#tasks td.name{position:sticky;left:0;background:#fff;z-index:1}
pre{margin:6px 0;padding:8px;background:#f6f8fa;border:1px solid #d8dee4;border-radius:4px;overflow:auto;
max-height:420px;font:12px/1.35 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;white-space:pre}
pre .add{color:#116329;background:#e6ffec}pre .del{color:#82071e;background:#ffebe9}pre .hunk{color:#8250df}
details{margin:4px 0}summary{cursor:pointer}details.test>summary{font-size:13px}
details.test>summary code{font-weight:600}.note{color:#57606a;font-style:italic;margin:6px 0}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;fill:#1f2328}
svg text.axis{fill:#57606a}
table.groups td{padding:3px 8px}.rate{display:inline-block;width:160px;max-width:30vw;height:10px;
background:#eaeef2;border-radius:3px;vertical-align:middle}.rate>span{display:block;height:100%;border-radius:3px}
.stats td:nth-child(n+2){text-align:right;font-variant-numeric:tabular-nums}.stats tr.total td{font-weight:600}
.stats td.lang{padding-left:24px}
input[type=search]{padding:4px 8px;border:1px solid #d0d7de;border-radius:4px;width:260px;max-width:100%}
.live{background:#ddf4ff;border:1px solid #54aeff;border-radius:6px;padding:4px 10px;display:inline-block;
margin-top:6px}
@media (max-width:600px){main{padding:12px 10px 40px}h1{font-size:22px}table{font-size:13px}th{font-size:12px}
th,td{padding:4px 4px}#tasks td:not(.name){min-width:150px}.runname{white-space:normal}
.card{padding:8px 8px}.meanbar,.swatch{display:none}.badge{white-space:normal}}
"""

# Filtering is the only script of a written report: it hides tasks whose name does not contain the typed text.
FILTER_JS = """
document.getElementById("task-filter").addEventListener("input", function (event) {
  var query = event.target.value.toLowerCase();
  document.querySelectorAll("[data-task]").forEach(function (element) {
    element.hidden = query !== "" && element.dataset.task.toLowerCase().indexOf(query) < 0;
  });
});
"""
# A served report (`--serve`) also polls the server's version counter and reloads when results changed.
LIVE_JS = """
(function () {
  var shown = document.documentElement.dataset.version;
  function poll() {
    fetch("version", {cache: "no-store"}).then(function (response) { return response.text(); })
      .then(function (version) { if (version.trim() !== shown) { location.reload(); } else { later(); } })
      .catch(later);
  }
  function later() { setTimeout(poll, POLL_MS); }
  later();
})();
""".replace("POLL_MS", str(LIVE_POLL_MS))


def _script_hash(script: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"


# The page may only run the scripts above (by hash) and load nothing at all, so even a result that slipped
# past escaping could neither execute nor phone home. A served page may also fetch its own server's version.
CSP = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {_script_hash(FILTER_JS)}"
LIVE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
    f"script-src {_script_hash(FILTER_JS)} {_script_hash(LIVE_JS)}"
)


def write_report(
    paths: list[Path], output: Path, title: str = "twinbench report", *, rank_flagged: bool = False
) -> list[Run]:
    """Load the runs, write the HTML report to `output` atomically, and return the runs.

    Raises NoResults (a FormatError) when no run holds any result.
    """
    runs = load_runs(paths)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    partial.write_text(render_html(runs, title, rank_flagged=rank_flagged), encoding="utf-8")
    os.replace(partial, output)
    return runs


def render_html(
    runs: list[Run], title: str = "twinbench report", *, rank_flagged: bool = False, live: str | None = None
) -> str:
    """The whole report as one HTML document with no external resources.

    `live` is the served page's version: the page then polls its server and reloads when it changes.
    """
    tasks = task_ids(runs)
    colors = {run.label: RUN_COLORS[i % len(RUN_COLORS)] for i, run in enumerate(runs)}
    anchors = {task: f"task-{i}" for i, task in enumerate(tasks, 1)}
    distribution = _distribution_section(runs, tasks, colors)
    nav = [("leaderboard", "Leaderboard"), ("tasks", "Tasks")]
    nav += [("distribution", "Score distribution")] if distribution else []
    nav += [("details", "Details")]
    live_note = (
        f'<div class="live">live: this page reloads when results under the run directories change'
        f" (version {esc(live)})</div>"
        if live is not None
        else ""
    )
    body = [
        f"<header><h1>{esc(title)}</h1>",
        f'<div class="sub">{_count(len(runs), "run")}, {_count(len(tasks), "task")}'
        f" &middot; twinbench {esc(twinbench.__version__)}</div>",
        "<nav>" + "".join(f'<a href="#{anchor}">{name}</a>' for anchor, name in nav) + "</nav>",
        f"{live_note}</header>",
        _leaderboard_section(runs, colors, rank_flagged),
        _tasks_section(runs, tasks, anchors),
        distribution,
        # scores by task size class sit between the overall picture and the per-task details
        _size_section(runs),
        details_section(runs, tasks, anchors),
    ]
    csp, scripts = (CSP, FILTER_JS) if live is None else (LIVE_CSP, FILTER_JS + "</script><script>" + LIVE_JS)
    version = f' data-version="{esc(live)}"' if live is not None else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"{version}><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main>{''.join(body)}</main><script>{scripts}</script></body></html>\n"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _table(head: str, rows: list[str], css: str = "") -> str:
    """A table that scrolls sideways inside its own box on a narrow screen instead of widening the page."""
    klass = f' class="{css}"' if css else ""
    body = "".join(rows)
    return f'<div class="scroll"><table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _leaderboard_section(runs: list[Run], colors: dict[str, str], rank_flagged: bool) -> str:
    rows = leaderboard(runs, rank_flagged=rank_flagged)
    ranked = [row for row in rows if row.ranked]
    unranked = [row for row in rows if not row.ranked]
    empty = {run.label for run in runs if not run.results}
    head = (
        '<th class="num">rank</th><th>run</th><th class="num">tasks</th><th class="num">resolved</th>'
        '<th class="num">near-resolved</th><th class="num">mean score</th>'
    )
    parts = ['<section id="leaderboard"><h2>Leaderboard</h2>']
    if ranked:
        parts.append(_table(head, [_leaderboard_row(row, colors, row.run in empty) for row in ranked]))
    else:
        parts.append('<p class="note">No run is ranked: every run is flagged by the audit.</p>')
    parts.append(
        '<p class="note">Ranked by resolved tasks (every test passes), then near-resolved tasks (score &ge; 0.95,'
        " resolved included), then mean score. As in ProgramBench, a task another run has a result for and this"
        " run has not counts as score 0; a run with several results for one task counts its best."
        + (
            " Runs with a high or critical audit flag are ranked too (<code>--rank-flagged</code>)."
            if rank_flagged
            else " A run with a high or critical audit flag on any result is not ranked"
            " (<code>--rank-flagged</code> ranks it)."
        )
        + "</p>"
    )
    if unranked:
        names = ", ".join(esc(row.run) for row in unranked)
        parts.append(
            f'<h3 id="not-ranked">Not ranked: flagged {names}</h3>'
            '<p class="note">The audit found that these scores cannot be trusted (for example a wrapper around'
            " the reference program). Their figures are shown for reference only.</p>"
        )
        parts.append(_table(head, [_leaderboard_row(row, colors, row.run in empty) for row in unranked]))
    if empty:
        listed = ", ".join(f"<code>{esc(label)}</code>" for label in sorted(empty))
        parts.append(f'<p class="note">No results yet under: {listed} (every task counts as 0).</p>')
    parts += [_errors_table(runs), _summaries_table(runs), "</section>"]
    return "".join(parts)


def _leaderboard_row(row: LeaderboardRow, colors: dict[str, str], empty: bool) -> str:
    # unreadable results are rare: a badge by the name, not a column of zeros pushing the table off a phone
    errors = f' <span class="badge bad">{row.errors}&nbsp;unreadable</span>' if row.errors else ""
    no_results = ' <span class="badge warn">no results</span>' if empty else ""
    rank = str(row.rank) if row.rank is not None else "&ndash;"
    css = ' class="has-flag"' if row.flag else ""
    main = (
        f'<tr{css}><td class="num">{rank}</td>'
        f'<td><span class="swatch" style="color:{colors[row.run]}">&#9632; </span>'
        f'<b class="runname">{esc(row.run)}</b>{no_results}{errors}</td>'
        f'<td class="num">{row.tasks}/{row.tasks_total}</td><td class="num">{row.resolved}</td>'
        f'<td class="num">{row.near_resolved}</td>'
        f'<td class="num nowrap">{row.mean_score:.3f}<span class="meanbar" style="width:{80 * row.mean_score:.0f}px">'
        f'</span><span class="meanbar" style="width:{80 * (1 - row.mean_score):.0f}px;background:#eaeef2;'
        f'margin-left:0"></span></td></tr>'
    )
    if row.flag is None:
        return main
    # the flag gets a row of its own across the table, so a long finding does not squeeze the figures
    where = esc(row.flag.task) + ("" if row.flag.submission == row.run else " / " + esc(row.flag.submission))
    others = f" (+{row.flagged - 1} more flagged)" if row.flagged > 1 else ""
    return (
        f'{main}<tr class="flag-row"><td></td><td colspan="5">'
        f"{flag_badge(row.flag.severity, row.flag.rule, row.flag.message)}"
        f'<span class="flag-msg">{esc(row.flag.message)} &mdash; {where}{others}</span></td></tr>'
    )


def _size_section(runs: list[Run]) -> str:
    """Mean scores by task size class; nothing when no task's size is known."""
    records = task_size_records(runs)
    if not records:
        return ""
    sizes = {task: size.size_class for task, size in records.items()}
    methods = {task: size.method for task, size in records.items()}
    rows = "".join(
        f'<tr><td>{esc(row.run)}</td><td>{esc(row.size_class)}</td><td class="num">{row.tasks}</td>'
        f'<td class="num">{row.resolved}</td><td class="num">{row.mean_score:.3f}</td>'
        f"<td>{esc(_measured(row.measured_by))}</td></tr>"
        for row in scores_by_size(runs, sizes, methods)
    )
    return (
        '<section id="sizes"><h3>By task size</h3><div class="scroll"><table><thead><tr><th>run</th><th>size</th>'
        '<th class="num">tasks</th><th class="num">resolved</th><th class="num">mean score</th><th>sized by</th>'
        f'</tr></thead><tbody>{rows}</tbody></table></div><p class="note">Size classes by lines of code of the '
        "reference's own sources: small &lt; 5,000, medium &lt; 50,000, large above. A coverage build counts the "
        "sources linked into the program; a source package counts every own source file of the program's "
        "language in Debian's source package, all its programs together (an upper bound).</p></section>"
    )


def _measured(counts: dict[str, int]) -> str:
    """`3 coverage build, 5 source package`: how the sizes of a row's tasks were measured."""
    return ", ".join(f"{count} {method.replace('-', ' ')}" for method, count in counts.items()) or "-"


def _errors_table(runs: list[Run]) -> str:
    rows = [
        f"<tr><td>{esc(run.label)}</td><td><code>{esc(result.path)}</code></td><td>{esc(result.error)}</td></tr>"
        for run in runs
        for result in run.errors()
    ]
    rows += [
        f"<tr><td>{esc(run.label)}</td><td><code>run summary</code></td><td>{esc(run.summary_error)}</td></tr>"
        for run in runs
        if run.summary_error
    ]
    if not rows:
        return ""
    return "<h3>Unreadable results</h3>" + _table("<th>run</th><th>file</th><th>problem</th>", rows)


def _summaries_table(runs: list[Run]) -> str:
    rows = []
    for run in runs:
        if run.summary is None:
            continue
        fields = _flatten(run.summary)[:20]
        shown = "; ".join(f"<b>{esc(humane_key(key))}</b>: {esc(_fmt(value))}" for key, value in fields)
        rows.append(f"<tr><td>{esc(run.label)}</td><td>{shown}</td></tr>")
    if not rows:
        return ""
    return "<h3>Run summaries</h3>" + _table("<th>run</th><th>summary</th>", rows)


def _tasks_section(runs: list[Run], tasks: list[str], anchors: dict[str, str]) -> str:
    head = "<th>task</th>" + "".join(f"<th>{esc(run.label)}</th>" for run in runs)
    bests = [run.best() for run in runs]
    rows = []
    for task in tasks:
        cells = []
        for run, best in zip(runs, bests, strict=True):
            here = [result for result in run.results if result.task == task]
            lines = [_score_line(result, result is best.get(task), len(here)) for result in here]
            cells.append(
                f"<td>{''.join(lines)}</td>"
                if lines
                else '<td class="missing" title="no result: counts as score 0">&mdash; (0)</td>'
            )
        link = f'<a href="#{anchors[task]}"><b>{esc(task)}</b></a>'
        rows.append(f'<tr data-task="{esc(task)}"><td class="name">{link}</td>{"".join(cells)}</tr>')
    search = (
        '<p><label>Filter tasks: <input type="search" id="task-filter" placeholder="task name"></label></p>'
        if len(tasks) > 1
        else '<input type="hidden" id="task-filter">'
    )
    return (
        f'<section id="tasks"><h2>Tasks</h2>{search}{_table(head, rows)}'
        '<p class="note">Score = passed / total tests (the ranking uses it); behavioral = the same with any'
        " non-empty stderr accepted where the reference printed one. &mdash; marks a task the run has no result"
        " for.</p></section>"
    )


def _score_line(result: TaskResult, counted: bool, results_here: int) -> str:
    if result.error is not None:
        return f'<div class="cell-line"><span class="badge bad" title="{esc(result.error)}">unreadable</span></div>'
    css = "cell-line" if counted else "cell-line uncounted"
    build = "" if result.build_ok else ' <span class="badge bad">build failed</span>'
    flag = result.flag
    flagged = f" {flag_badge(flag.severity, flag.rule, flag.message)}" if flag is not None else ""
    # the submission name only helps when a run holds more than one result for the task
    name = f'<span class="sub">{esc(result.submission)}:</span> ' if results_here > 1 else ""
    behavioral = (
        f' <span class="sub" title="stderr wording free">behavioral {result.behavioral_score:.3f}</span>'
        if result.behavioral_score is not None
        else ""
    )
    return (
        f'<div class="{css}">{name}{score_badge(result.score)} {result.passed}/{result.total}'
        f"{_resolution_badge(result)}{build}{flagged}{behavioral}</div>"
    )


def _resolution_badge(result: TaskResult) -> str:
    if result.resolved:
        return ' <span class="badge ok">resolved</span>'
    if result.near_resolved:
        return ' <span class="badge warn">near-resolved</span>'
    return ""


def _distribution_section(runs: list[Run], tasks: list[str], colors: dict[str, str]) -> str:
    """Histograms of per-task scores, only where one says more than the tasks table: several tasks, several bars."""
    if len(tasks) < HISTOGRAM_MIN_TASKS:
        return ""
    cards, one_bin = [], []
    for run in runs:
        scores = [result.score for result in run.best().values()]
        if not scores:
            continue
        missing = len(tasks) - len(scores)
        note = f"{_count(len(scores), 'task')} with results"
        note += f"; {missing} missing (count as 0, not drawn)" if missing else ""
        filled = [index for index, count in enumerate(score_bins(scores)) if count]
        if len(scores) < HISTOGRAM_MIN_TASKS:
            listed = ", ".join(f"{score:.3f}" for score in sorted(scores, reverse=True))
            one_bin.append(f"<li><b>{esc(run.label)}</b>: {note}, scoring {listed}</li>")
            continue
        if len(filled) == 1:
            one_bin.append(f"<li><b>{esc(run.label)}</b>: {note}, every one scoring {_bin_name(filled[0])}</li>")
            continue
        histogram = score_histogram(scores, colors[run.label], f"distribution of per-task scores of {run.label}")
        cards.append(f'<div class="card"><h4>{esc(run.label)}</h4>{histogram}<div class="sub">{note}</div></div>')
    if not cards and not one_bin:
        return ""
    listed = f'<ul class="note">{"".join(one_bin)}</ul>' if one_bin else ""
    return (
        '<section id="distribution"><h2>Score distribution</h2><p class="note">How many tasks each run scored'
        " in each tenth of the score range; the green bar counts resolved tasks. A run whose scores all fall in"
        " one bar, or that has fewer than"
        f" {HISTOGRAM_MIN_TASKS} results, is described in a line instead.</p>"
        f'<div class="hists">{"".join(cards)}</div>{listed}</section>'
    )


def _bin_name(index: int) -> str:
    if index == 10:
        return "1 (resolved)"
    if index == 9:
        return "from 0.9 to below 1"
    return f"from {index / 10:.1f} to below {index / 10 + 0.1:.1f}" if index else "below 0.1"


def _flatten(value: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested summary fields as dotted keys, so any shape of run summary fits one line."""
    items: list[tuple[str, Any]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            items.extend(_flatten(item, f"{name}."))
        else:
            items.append((name, item))
    return items


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, list):
        if len(value) <= 8 and all(isinstance(item, str | int | float) for item in value):
            return ", ".join(str(item) for item in value)
        return f"{len(value)} items"
    return str(value)
