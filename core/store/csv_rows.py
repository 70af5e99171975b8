"""The CSV files admins keep by hand (intent training data, evaluation questions,
knowledge bases as spreadsheets), read so that a mistake is reported where it is.

The csv module's default dialect never fails: a quote left open swallows the rest of
the file into one field, and the first complaint is then about a later line ("the
category is empty"), naming the wrong problem. Read strictly, with each row numbered by
the line it starts on (the header is line 1, as in a spreadsheet), the error is the
quote itself, on its own line. Commas, or the semicolons or tabs the header is written
with: a file saved by a European Excel was refused as having no 'question' column.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from switchboard.core.errors import SwitchboardError

_QUOTING = "write a quote inside a field as two (\"\") and put a field holding a comma in quotes"


class CsvFormatError(SwitchboardError, ValueError):
    """The text is not valid CSV; the message starts with the line to look at."""

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(f"line {line}: {problem}")


@dataclass(frozen=True)
class Row:
    line: int  # the line the row starts on: a quoted field may run over several
    values: dict[str, str]  # column (stripped, lower case) → value; "" for a missing one


def header_delimiter(content: str, *, tsv: bool = False) -> str:
    """A tab for a .tsv file (``tsv``); else a comma, or the semicolon or tab the header
    line is written with (Excel in much of Europe saves CSV with semicolons)."""
    if tsv:
        return "\t"
    header = content.partition("\n")[0]
    return max((",", ";", "\t"), key=header.count) if header.strip() else ","


def read_rows(content: str, *, delimiter: str | None = None) -> tuple[list[str], list[Row]]:
    """The header's column names (stripped, lower case) and the rows under it, rows with
    nothing but blanks left out (spreadsheets leave these at the end). ``delimiter``:
    the one the header line is written with unless given (:func:`header_delimiter`)."""
    delimiter = delimiter or header_delimiter(content)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    columns: list[str] | None = None
    rows: list[Row] = []
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return columns or [], rows
        except csv.Error as exc:
            raise _problem(exc, start, reader.line_num) from None
        if columns is None:
            columns = [name.strip().lower() for name in values]
        elif any(value.strip() for value in values):
            rows.append(Row(start, {name: values[i] if i < len(values) else "" for i, name in enumerate(columns)}))


def _problem(error: csv.Error, start: int, seen: int) -> CsvFormatError:
    if str(error) == "unexpected end of data":  # the csv module's words for a quote never closed
        return CsvFormatError(start, "a quote opens a field here and is never closed, so the rest of the file "
                                     f"would be read as one value; close it ({_QUOTING})")
    runs_on = f" (a quoted field runs on from here to line {seen})" if seen > start else ""
    fix = _QUOTING if '"' in str(error) else "export the file again as 'CSV UTF-8'"
    return CsvFormatError(start, f"is not valid CSV: {error}{runs_on}; {fix}")
