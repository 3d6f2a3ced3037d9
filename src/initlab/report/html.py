"""A self-contained HTML report: sections of text, tables and PNG figures.

Figures are embedded as base64 ``data:`` URIs and the style sheet is inline,
so the page opens from the file system with no server and no network
access. Every piece of text is HTML-escaped.

Example::

    report = HtmlReport("initlab compare", subtitle="mlp:5x50:tanh on digits")
    section = report.add_section("Summary", "Final test accuracy over 5 seeds.")
    section.add_table(["init", "accuracy"], [["he_normal", "0.95"]])
    section.add_figure(png_bytes, "Test accuracy per epoch.")
    report.write("initlab-report/index.html")
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from initlab.atomic import write_text

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
p.subtitle { color: #555; margin-top: 0; }
p.caption, figcaption { color: #444; font-size: 0.92rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
"""


def _escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def _is_number(cell: object) -> bool:
    if isinstance(cell, int | float):
        return True
    try:
        float(str(cell).replace("±", "").split()[0])
    except (ValueError, IndexError):
        return False
    return True


@dataclass
class Section:
    """A titled part of a report: blocks of text, tables, figures and code."""

    title: str
    caption: str = ""
    blocks: list[str] = field(default_factory=list)

    def add_text(self, text: str) -> Section:
        """Add a paragraph of plain text."""
        self.blocks.append(f'<p class="caption">{_escape(text)}</p>')
        return self

    def add_table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[object]],
        caption: str = "",
    ) -> Section:
        """Add a table; cells are shown with ``str`` and numbers align right."""
        head = "".join(f"<th>{_escape(column)}</th>" for column in columns)
        body = []
        for row in rows:
            cells = "".join(
                f'<td class="number">{_escape(cell)}</td>'
                if _is_number(cell)
                else f"<td>{_escape(cell)}</td>"
                for cell in row
            )
            body.append(f"<tr>{cells}</tr>")
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        if caption:
            table = f'<p class="caption">{_escape(caption)}</p>{table}'
        self.blocks.append(table)
        return self

    def add_figure(self, png: bytes, caption: str, alt: str = "") -> Section:
        """Add a PNG image, embedded as a base64 data URI, with its caption."""
        encoded = base64.b64encode(png).decode("ascii")
        self.blocks.append(
            "<figure>"
            f'<img src="data:image/png;base64,{encoded}" alt="{_escape(alt or caption)}">'
            f"<figcaption>{_escape(caption)}</figcaption>"
            "</figure>"
        )
        return self

    def add_code(self, text: str) -> Section:
        """Add preformatted text, such as a config or a JSON excerpt."""
        self.blocks.append(f"<pre>{_escape(text)}</pre>")
        return self

    def render(self) -> str:
        """Return the section as an HTML fragment."""
        caption = (
            f'<p class="caption">{_escape(self.caption)}</p>' if self.caption else ""
        )
        return f"<section><h2>{_escape(self.title)}</h2>{caption}{''.join(self.blocks)}</section>"


@dataclass
class HtmlReport:
    """A one-page HTML report made of :class:`Section` objects, in order."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def add_section(self, title: str, caption: str = "") -> Section:
        """Append a new section and return it for adding content."""
        section = Section(title, caption)
        self.sections.append(section)
        return section

    def render(self) -> str:
        """Return the whole page as a string."""
        subtitle = (
            f'<p class="subtitle">{_escape(self.subtitle)}</p>' if self.subtitle else ""
        )
        body = "\n".join(section.render() for section in self.sections)
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_escape(self.title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>{_escape(self.title)}</h1>{subtitle}\n{body}\n</body></html>\n"
        )

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically and return the path."""
        return write_text(path, self.render())
