"""Turning matplotlib figures into PNG bytes and files.

Figures are built with ``matplotlib.figure.Figure`` directly, not pyplot, so
no global figure state or GUI backend is involved and nothing needs closing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from matplotlib.figure import Figure

from initlab.atomic import write_bytes

DPI = 110


def png_bytes(figure: Figure, dpi: int = DPI) -> bytes:
    """Render ``figure`` as PNG and return the bytes."""
    buffer = io.BytesIO()
    # The plots lay themselves out (constrained or fixed layout); a "tight"
    # bounding box would render every figure twice.
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_png(figure: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> bytes:
    """Write ``figure`` to ``path`` as PNG atomically and return the PNG bytes.

    The bytes can go straight into :meth:`initlab.report.html.Section.add_figure`,
    so the file and the page show the same image.
    """
    data = png_bytes(figure, dpi)
    write_bytes(Path(path), data)
    return data
