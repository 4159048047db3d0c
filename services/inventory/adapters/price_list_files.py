"""A price list file as a table of text cells: CSV (UTF-8, with or without a BOM) or an `.xlsx` workbook's
first sheet. Which one it is, is read from the file itself, not from its name."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime

from openpyxl import load_workbook

from shared.errors import Invalid

XLSX_MAGIC = b"PK\x03\x04"  # an .xlsx is a zip archive


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a spreadsheet's 12 is 12.0
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def read_xlsx(content: bytes) -> list[list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise Invalid(f"the file is not a readable .xlsx workbook: {e}") from None
    try:
        sheet = workbook.worksheets[0]
        return [[_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_csv(content: bytes) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("a CSV price list must be UTF-8 text (save it as 'CSV UTF-8')") from None
    try:
        return [row for row in csv.reader(io.StringIO(text))]
    except csv.Error as e:
        raise Invalid(f"the CSV cannot be read: {e}") from None


def read_table(content: bytes) -> list[list[str]]:
    if not content.strip():
        raise Invalid("the price list is empty: send a CSV or .xlsx file as the request body")
    return read_xlsx(content) if content.startswith(XLSX_MAGIC) else read_csv(content)
