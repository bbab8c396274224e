"""Text written to a spreadsheet stays text: the one rule for every .xlsx and .csv we write.

Excel, LibreOffice and Google Sheets take a cell that begins with = + - @ (or a tab or a
carriage return) for a formula, so a note such as `=HYPERLINK("http://…","点击查看详情")` or
`=cmd|' /C calc'!A0` would be live in the company's copy of a report. Every writer puts its
values through `write` (openpyxl) or `csv_field` (CSV): such text becomes a string cell with
Excel's quote prefix (shown exactly as typed, never evaluated), or a CSV field with a leading
apostrophe (the OWASP convention for CSV). Numbers and dates are left as they are.

The .xlsx format cannot hold most control characters (a note "a\x01b" made openpyxl raise
and the whole report fail): `write` puts U+FFFD in place of each, so the report still renders
and shows where something unprintable was typed. CSV holds them as they are.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT = "\ufffd"


def formula_like(value: object) -> TypeGuard[str]:
    """Whether a spreadsheet would read `value` as a formula if it were written as it is."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def write(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """Put `value` in the cell; text is always a string cell, never a formula, and holds no
    character the file format cannot."""
    cell: Cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT, value)
    cell.value = value
    if formula_like(value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def csv_field(value: object) -> object:
    """The CSV field for `value`: text a spreadsheet would evaluate gets a leading apostrophe."""
    return f"'{value}" if formula_like(value) else value
