"""The report's per-task details: one card per result, with what matters first (weakest groups, a few diffs)."""

from __future__ import annotations

from typing import Any

from twinbench.report.charts import esc, group_table, score_color
from twinbench.report.load import SEVERITY_ORDER, Audit, FailingTest, Run, TaskResult, severity_rank

MAX_FAILING_SHOWN = 50  # per result: a page with thousands of diffs is unusable, the rest is in eval.json
OPEN_DIFFS = 3  # failing tests per result whose diff is open on load, taken from the weakest groups
WEAKEST_GROUPS_SHOWN = 6  # groups listed open, lowest pass rate first; the rest are one click away
MAX_DIFF_CHARS = 6000
MAX_FINDINGS_SHOWN = 200
MAX_EVIDENCE_SHOWN = 10
MAX_EVIDENCE_CHARS = 1000
MAX_LANGUAGES_SHOWN = 12
# Code statistics as audit.json writes them (twinbench.audit.codestats.CodeStats), with the words a person uses.
CODE_TOTALS = (("files", "files"), ("code_lines", "code lines"), ("functions", "functions"))


def score_badge(score: float) -> str:
    """The score on a background from red (0) to green (1)."""
    return f'<span class="score" style="background:{score_color(score)}">{score:.3f}</span>'


def flag_badge(severity: str, rule: str, message: str) -> str:
    """The audit's flag: severity and rule, with the finding as a tooltip."""
    css = severity if severity in SEVERITY_ORDER else "other"
    return f'<span class="badge sev-{css}" title="{esc(message)}">flagged {esc(severity)}: {esc(rule)}</span>'


def humane_key(key: str) -> str:
    """A field name as words: `cost_usd` as `cost usd`, `counts.ran` as `counts: ran`."""
    return key.replace("_", " ").replace(".", ": ")


def details_section(runs: list[Run], tasks: list[str], anchors: dict[str, str]) -> str:
    """One section per task with a card per readable result."""
    sections = []
    for task in tasks:
        cards = []
        for run in runs:
            here = [result for result in run.results if result.task == task and result.error is None]
            cards += [_result_card(run, result, len(here)) for result in here]
        sections.append(
            f'<section class="task" id="{anchors[task]}" data-task="{esc(task)}"><h3>{esc(task)}</h3>{"".join(cards)}'
            "</section>"
        )
    return f'<section id="details"><h2>Details</h2>{"".join(sections)}</section>'


def _result_card(run: Run, result: TaskResult, results_here: int) -> str:
    chips = "".join(
        f'<span class="badge st-{esc(status)}">{count} {esc(status.replace("_", " "))}</span>'
        for status, count in result.counts.items()
        if count
    )
    build = (
        '<span class="badge ok">build ok</span>' if result.build_ok else '<span class="badge bad">build failed</span>'
    )
    # the submission name only tells results apart when the run has several for this task
    name = f'<span class="sub">{esc(result.submission)}</span>' if results_here > 1 else ""
    flag = result.flag
    flagged = flag_badge(flag.severity, flag.rule, flag.message) if flag is not None else ""
    head = (
        f'<div class="card-head"><b>{esc(run.label)}</b>{name}{score_badge(result.score)}'
        f"<span>{result.passed}/{result.total} passed</span>{_resolution(result)}{flagged}"
        f'{build}{chips}<span class="sub">{result.seconds:.1f} s &middot; <code>{esc(result.path)}</code></span></div>'
    )
    parts = [f'<div class="card">{head}']
    if flag is not None:
        parts.append(f'<div class="note">audit: {esc(flag.message)}</div>')
    if result.build_reason:
        parts.append(f'<div class="note">build: {esc(result.build_reason)}</div>')
    if not result.build_ok and result.build_log_tail:
        parts.append(f"<details><summary>build log (tail)</summary><pre>{esc(result.build_log_tail)}</pre></details>")
    rates = {group.group: group.rate for group in result.groups}
    if len(result.groups) > 1 and result.build_ok:  # one group's rate is the score already in the header
        parts.append(_groups_block(result))
    parts.append(_failing_block(result, rates))
    # the audit goes after what failed: its findings are summarized by the flag in the header
    if result.audit is not None:
        parts.append(_audit_block(result.audit))
    if result.audit_error:
        parts.append(f'<div class="note">audit.json unreadable: {esc(result.audit_error)}</div>')
    parts.append("</div>")
    return "".join(parts)


def _resolution(result: TaskResult) -> str:
    if result.resolved:
        return '<span class="badge ok">resolved</span>'
    if result.near_resolved:
        return '<span class="badge warn">near-resolved</span>'
    return ""


def _groups_block(result: TaskResult) -> str:
    """Pass rate per group, lowest first: the weakest few open, the rest folded."""
    groups = sorted(result.groups, key=lambda group: (group.rate, group.group))
    weakest, rest = groups[:WEAKEST_GROUPS_SHOWN], groups[WEAKEST_GROUPS_SHOWN:]
    more = f"<details><summary>{len(rest)} more groups</summary>{group_table(rest)}</details>" if rest else ""
    return (
        f'<details class="groups" open><summary>test groups, lowest pass rate first ({len(groups)} groups)</summary>'
        f"{group_table(weakest)}{more}</details>"
    )


def _failing_block(result: TaskResult, rates: dict[str, float]) -> str:
    if not result.failing:
        return ""
    if not result.build_ok:
        return f'<p class="note">{len(result.failing)} tests not run: the build failed.</p>'
    ordered = _failing_order(result.failing, rates)
    # chosen from every failing test: the weakest group alone can hold more than the list shows
    opened = _diffs_to_open(ordered)
    first = [test for test in ordered if test.id in opened]
    later = [test for test in ordered if test.id not in opened][: MAX_FAILING_SHOWN - len(first)]
    items = "".join(_failing_test(test, True) for test in first)
    folded = "".join(_failing_test(test, False) for test in later)
    more = len(result.failing) - len(first) - len(later)
    note = (
        f'<p class="note">&hellip; and {more} more tests that did not pass, not shown; see {esc(result.path)}</p>'
        if more
        else ""
    )
    rest = f"<details><summary>{len(later)} more tests that did not pass</summary>{folded}{note}</details>"
    rest = rest if later else note
    opened_note = f", {len(first)} diffs from the weakest groups shown" if first else ""
    return (
        f'<details class="failing" open><summary>{len(result.failing)} tests did not pass{opened_note}</summary>'
        f"{items}{rest}</details>"
    )


def _failing_order(failing: list[FailingTest], rates: dict[str, float]) -> list[FailingTest]:
    """Failing tests of the weakest groups first, so the list starts where the submission is worst."""
    return sorted(failing, key=lambda test: (rates.get(test.group, 0.0), test.group, test.id))


def _diffs_to_open(ordered: list[FailingTest]) -> set[str]:
    """A few tests with a diff, one per group from the weakest, so the open diffs show different problems."""
    opened: list[str] = []
    groups_seen: set[str] = set()
    for test in ordered:
        if test.diff and test.group not in groups_seen:
            opened.append(test.id)
            groups_seen.add(test.group)
        if len(opened) == OPEN_DIFFS:
            return set(opened)
    for test in ordered:  # fewer groups than OPEN_DIFFS: more diffs of the same groups
        if len(opened) == OPEN_DIFFS:
            break
        if test.diff and test.id not in opened:
            opened.append(test.id)
    return set(opened)


def _failing_test(test: FailingTest, is_open: bool) -> str:
    summary = (
        f'<code>{esc(test.id)}</code> <span class="sub">[{esc(test.group)}]</span> '
        f'<span class="badge st-{esc(test.status.value)}">{esc(test.status.value)}</span> {esc(test.reason)}'
    )
    if not test.diff:
        return f'<div class="test">{summary}</div>'
    state = " open" if is_open else ""
    return f'<details class="test"{state}><summary>{summary}</summary>{_diff_block(test.diff)}</details>'


def _diff_block(diff: str) -> str:
    cut = diff[:MAX_DIFF_CHARS]
    lines = []
    for line in cut.split("\n"):
        if line.startswith("@@"):
            css = "hunk"
        elif line.startswith("+") and not line.startswith("+++"):
            css = "add"
        elif line.startswith("-") and not line.startswith("---"):
            css = "del"
        else:
            css = ""
        lines.append(f'<span class="{css}">{esc(line)}</span>' if css else esc(line))
    tail = f"\n… {len(diff) - len(cut)} more characters" if len(diff) > len(cut) else ""
    return f"<pre>{chr(10).join(lines)}{esc(tail)}</pre>"


def _audit_block(audit: Audit) -> str:
    flag = '<span class="badge bad">flagged</span>' if audit.flag() else '<span class="badge ok">not flagged</span>'
    parts = [f"<h4>Audit {flag}</h4>"]
    findings = sorted(audit.findings, key=lambda finding: severity_rank(finding.severity))
    if findings:
        rows = []
        for finding in findings[:MAX_FINDINGS_SHOWN]:
            severity = finding.severity if finding.severity in SEVERITY_ORDER else "other"
            evidence = "".join(
                f"<pre>{esc(item[:MAX_EVIDENCE_CHARS])}{'…' if len(item) > MAX_EVIDENCE_CHARS else ''}</pre>"
                for item in finding.evidence[:MAX_EVIDENCE_SHOWN]
            )
            if len(finding.evidence) > MAX_EVIDENCE_SHOWN:
                evidence += f'<div class="note">&hellip; {len(finding.evidence) - MAX_EVIDENCE_SHOWN} more</div>'
            rows.append(
                f'<tr><td><span class="badge sev-{severity}">{esc(finding.severity)}</span></td>'
                f"<td><code>{esc(finding.rule)}</code></td><td>{esc(finding.message)}</td>"
                f"<td><code>{esc(finding.file or '')}</code></td>"
                f"<td>{f'<details><summary>{len(finding.evidence)}</summary>{evidence}</details>' if evidence else ''}"
                "</td></tr>"
            )
        parts.append(
            '<div class="scroll"><table><thead><tr><th>severity</th><th>rule</th><th>finding</th><th>file</th>'
            f"<th>evidence</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
        if len(findings) > MAX_FINDINGS_SHOWN:
            parts.append(f'<p class="note">&hellip; {len(findings) - MAX_FINDINGS_SHOWN} more findings</p>')
    else:
        parts.append('<p class="note">no findings</p>')
    if audit.code or audit.reference_code:
        parts.append(code_stats_table(audit.code or {}, audit.reference_code))
    return "".join(parts)


def code_stats_table(code: dict[str, Any], reference: dict[str, Any] | None) -> str:
    """Code statistics as a small table: a total row and a row per language, for the submission and reference."""
    rows: list[str] = []
    shape: list[str] = []
    for who, stats in (("submission", code), ("reference", reference)):
        if not stats:
            continue
        rows.append(_stats_row(who, stats, total=True))
        languages = stats.get("languages")
        if isinstance(languages, dict):
            for language, figures in list(languages.items())[:MAX_LANGUAGES_SHOWN]:
                as_dict = figures if isinstance(figures, dict) else {"code_lines": figures}
                rows.append(_stats_row(str(language), as_dict, total=False))
        shape.append(_shape_line(who, stats))
    head = "<th>code</th>" + "".join(f"<th>{label}</th>" for _, label in CODE_TOTALS)
    return (
        f'<h4>Code statistics</h4><div class="scroll"><table class="stats"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{''.join(shape)}"
    )


def _stats_row(name: str, stats: dict[str, Any], total: bool) -> str:
    cells = "".join(f"<td>{esc(_number(stats.get(key)))}</td>" for key, _ in CODE_TOTALS)
    if total:
        return f'<tr class="total"><td>{esc(name)}</td>{cells}</tr>'
    return f'<tr><td class="lang">{esc(name)}</td>{cells}</tr>'


def _shape_line(who: str, stats: dict[str, Any]) -> str:
    """Mean and longest function and directory depth, in words."""
    figures = []
    mean, longest, depth = (stats.get(key) for key in ("mean_function_lines", "max_function_lines", "max_depth"))
    if isinstance(mean, int | float) and stats.get("functions"):
        figures.append(f"functions of {_number(mean)} lines on average")
    if isinstance(longest, int) and longest:
        where = stats.get("longest_function")
        figures.append(f"the longest {longest:,} lines" + (f" ({where})" if isinstance(where, str) and where else ""))
    if isinstance(depth, int):
        figures.append("all files at the top level" if depth == 0 else f"files up to {depth} directories deep")
    return f'<div class="note">{esc(who)}: {esc("; ".join(figures))}</div>' if figures else ""


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)
