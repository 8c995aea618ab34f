"""The summary page as HTML: the template and its inline CSS, a section from its panels, and the link
spliced into the navigation bar of asv's ``index.html``.

The page loads nothing from another host: inline CSS, no scripts, PNGs beside it, a ``data:`` favicon.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from pathlib import Path

from perfharness.site.atomic import write_atomic
from perfharness.site.formatting import date, esc, short
from perfharness.site.panels import Context, Panel
from perfharness.site.runs import Section

__all__ = ["LINK_ID", "SUMMARY_PAGE", "link_summary", "page", "section_html"]

SUMMARY_PAGE = "summary.html"
LINK_ID = "nav-li-gdopt-summary"


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def section_html(ctx: Context, panels: Sequence[Panel]) -> str:
    """One machine and environment: which commits, then every panel in order."""
    section = ctx.values.section
    latest, previous = section.latest, section.previous
    prev = (
        f"previous <code>{esc(short(previous.commit_hash))}</code> ({esc(date(previous.date))})"
        if previous
        else "no previous commit with results"
    )
    parts = [
        f"""
<section id="{esc(section.slug)}">
<h2>{esc(section.machine)} <span class="muted">· {esc(section.env_name)}</span></h2>
<p>Latest commit <code>{esc(short(latest.commit_hash))}</code> ({esc(date(latest.date))}), {prev};
{len(section.runs)} commit(s) with results, {esc(section.order_note)}. Changes are against the previous commit
that ran the benchmark; a value not measured at the latest commit is marked @commit.</p>"""
    ]
    for panel in panels:
        body = panel.render(ctx)
        if panel.folded:
            parts.append(f"<details><summary>{panel.title}</summary>\n{body}\n</details>")
        else:
            parts.append(f"<h3>{panel.title}</h3>\n{body}")
    parts.append("</section>")
    return "\n".join(parts)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;
padding:0 16px 40px;color:#222}
header{border-bottom:1px solid #ddd;margin-bottom:12px}
h1{font-size:22px;margin:14px 0 4px}h2{margin-top:32px;border-bottom:2px solid #eee;padding-bottom:4px}
h3{margin:22px 0 8px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;
vertical-align:top}thead th{background:#f4f4f4}table.num td{white-space:nowrap}table.kv th{background:#f8f8f8}
.better{color:#17802b;font-weight:600}.worse{color:#c0392b;font-weight:600}.muted{color:#777}
.note{color:#555;font-size:13px}.warn{background:#fff4e5;border:1px solid #f0c36d;padding:6px 10px}
figure{display:inline-block;margin:6px 12px 6px 0;vertical-align:top}figure img{max-width:100%;height:auto;
border:1px solid #eee}figcaption{font-size:13px;color:#555;max-width:750px}
ul.glance li{margin:4px 0}code{font-size:13px}nav.toc a{margin-right:14px}
"""


def page(sections_html: list[str], sections: list[Section], skipped: list[str], results_dir: Path) -> str:
    """The whole page: the sections' HTML, a table of contents, and the files that were skipped."""
    toc = "".join(f'<a href="#{esc(s.slug)}">{esc(s.machine)} · {esc(s.env_name)}</a>' for s in sections)
    warn = ""
    if skipped:
        items = "".join(f"<li>{esc(s)}</li>" for s in skipped)
        warn = f'<div class="warn"><b>Skipped files</b> (asv could not load them):<ul>{items}</ul></div>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gdopt summary</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
</head>
<body>
<header>
<p><a href="index.html">← the asv benchmark site</a></p>
<h1>gdopt summary: the optimizers side by side</h1>
<p class="note">Which optimizer reaches a given loss first, and what it spends in time and memory; built
{esc(_now_iso())} from the asv results in <code>{esc(results_dir.name)}/</code>.</p>
<nav class="toc">{toc}</nav>
</header>
{warn}
{"".join(sections_html)}
</body>
</html>
"""


_NAV_ANCHOR = re.compile(r'(<li\s+id="nav-li-regressions"[^>]*>.*?</li>)', re.IGNORECASE | re.DOTALL)
_NAV_LIST = re.compile(r'(<ul\s+class="nav navbar-nav[^"]*"[^>]*>)', re.IGNORECASE)


def link_summary(html_dir: Path) -> bool:
    """Add a "gdopt summary" entry to the navigation bar of asv's ``index.html``; True if it was added.

    Idempotent: an index that already links the summary is left alone. Without asv's navigation bar the
    link goes at the top of the body.
    """
    index = Path(html_dir) / "index.html"
    if not index.is_file():
        return False
    text = index.read_text(encoding="utf-8")
    if f'id="{LINK_ID}"' in text:
        return False
    item = f'<li id="{LINK_ID}"><a href="{SUMMARY_PAGE}" title="the gdopt summary page">gdopt summary</a></li>'
    if _NAV_ANCHOR.search(text):
        new = _NAV_ANCHOR.sub(lambda m: m.group(1) + "\n\t" + item, text, count=1)
    elif _NAV_LIST.search(text):
        new = _NAV_LIST.sub(lambda m: m.group(1) + "\n\t" + item, text, count=1)
    else:
        bar = f'<div id="{LINK_ID}" style="padding:4px 8px"><a href="{SUMMARY_PAGE}">gdopt summary</a></div>'
        new, n = re.subn(r"(<body\b[^>]*>)", lambda m: m.group(1) + bar, text, count=1, flags=re.IGNORECASE)
        if not n:
            new = bar + text
    write_atomic(index, new.encode("utf-8"))
    return True
