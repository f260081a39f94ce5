"""CSV text that a spreadsheet opens as plain values, never as formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> str:
    """A value as a cell's text; None is empty, and formula-like text is quoted."""
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula; quote it (OWASP CSV injection).
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(rows: Iterable[Iterable[object]], *, header: Sequence[str] | None = None) -> str:
    """CSV lines for some rows of values, the header first if one is given."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header is not None:
        writer.writerow(header)
    writer.writerows([spreadsheet_cell(value) for value in row] for row in rows)
    return out.getvalue()
