"""A performance file export as one printable HTML page.

Self-contained: the style sheet is inline (with `@media print` rules: no background,
no breaks inside an entry, each cycle on a new page), there are no scripts, images or
links to fetch, and every piece of text from the store goes through `html.escape`, so
a goal titled `<script>` prints as text. The page shows exactly the entries of the
export it is given: the redactions were applied when the export was built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from api.schemas.performance_files import PerformanceFileEntry, PerformanceFileExport

KIND_LABELS = {
    "goal": "Goal",
    "goal_change": "Goal change",
    "checkin": "Check-in",
    "review": "Review",
    "rating": "Rating",
    "calibration": "Calibration",
    "minutes": "Minutes",
    "acknowledgment": "Acknowledgment",
    "result": "Results",
    "talent": "Talent",
    "event": "Event",
}
STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24;
  margin: 2rem auto; max-width: 52rem; padding: 0 1rem; }
header { border-bottom: 2px solid #1b1f24; margin-bottom: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
header p { margin: .15rem 0; color: #444; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #bbb; }
ol.entries { list-style: none; padding: 0; margin: 0; }
li.entry { border-left: 3px solid #6b7b8c; padding: .3rem .8rem; margin: 0 0 .8rem; }
.meta { color: #555; font-size: .85rem; }
.kind { font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.summary { font-weight: 600; margin: .1rem 0 .2rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: 0; }
dt { color: #555; }
dd { margin: 0; white-space: pre-wrap; }
ul.values { margin: 0; padding-left: 1.1rem; }
p.empty { color: #555; font-style: italic; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; color: #000; }
  section.cycle { break-before: page; }
  section.cycle:first-of-type { break-before: auto; }
  li.entry { break-inside: avoid; border-left-color: #000; }
  header p, .meta, dt { color: #000; }
}
"""


def _text(value: Any) -> str:
    return escape(str(value), quote=True)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _value(value: Any) -> str:
    """A data value as HTML: lists and objects nested, everything else as escaped text."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return _fields(value) if value else "—"
    if isinstance(value, list | tuple):
        if not value:
            return "—"
        return '<ul class="values">' + "".join(f"<li>{_value(v)}</li>" for v in value) + "</ul>"
    return _text(value)


def _fields(data: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<dt>{_text(str(key).replace('_', ' '))}</dt><dd>{_value(value)}</dd>"
        for key, value in data.items()
    )
    return f"<dl>{rows}</dl>"


def _entry(entry: PerformanceFileEntry) -> str:
    by = "anonymous" if entry.anonymous else entry.author_id
    meta = [
        f'<span class="kind">{_text(KIND_LABELS.get(entry.kind, entry.kind))}</span>',
        _text(_when(entry.at)),
    ]
    if entry.phase_id:
        meta.append(f"phase {_text(entry.phase_id)}")
    if by:
        meta.append(f"by {_text(by)}")
    return (
        f'<li class="entry" id="{_text(entry.id)}">'
        f'<div class="meta">{" · ".join(meta)}</div>'
        f'<div class="summary">{_text(entry.summary)}</div>'
        f"{_fields(entry.data)}</li>"
    )


def _cycle(cycle_id: str | None, items: Sequence[PerformanceFileEntry]) -> str:
    title = f"Cycle {cycle_id}" if cycle_id else "Outside any cycle"
    return (
        f'<section class="cycle"><h2>{_text(title)}</h2><ol class="entries">'
        + "".join(_entry(item) for item in items)
        + "</ol></section>"
    )


def render(export: PerformanceFileExport) -> str:
    """The export as a complete HTML document."""
    title = f"Performance file of {export.employee_name} ({export.employee_id})"
    body = "".join(_cycle(c.cycle_id, c.items) for c in export.cycles) or (
        '<p class="empty">No records yet.</p>'
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_text(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{_text(title)}</h1>"
        f"<p>Generated {_text(_when(export.generated_at))} for {_text(export.exported_by)}.</p>"
        "<p>Confidential: what the reader may see of this person's records, by cycle, "
        "oldest first.</p></header>"
        f"<main>{body}</main></body></html>\n"
    )
