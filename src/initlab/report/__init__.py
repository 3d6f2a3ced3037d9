"""Rendering results: HTML pages, PNG plots, terminal tables and progress bars.

:class:`HtmlReport` builds a self-contained page from sections of text,
tables and PNG figures; :mod:`initlab.report.plots` draws the shared plots;
:mod:`initlab.report.compare` renders the results of ``initlab compare``.
"""

from initlab.report.figures import png_bytes, save_png
from initlab.report.html import HtmlReport, Section
from initlab.report.progress import ProgressDisplay
from initlab.report.tables import rich_table

__all__ = [
    "HtmlReport",
    "ProgressDisplay",
    "Section",
    "png_bytes",
    "rich_table",
    "save_png",
]
