"""HTML to the plain text that is chunked, ranked and quoted back over SMS/WhatsApp.

The stdlib parser is enough here: help-center HTML is simple, and what matters is that
block elements become paragraph breaks (the chunker splits on them) while markup,
scripts and styles disappear. A customer must never be sent a ``<div>``. A heading opens
a section; a table row is one line, its cells named by the header row's, so a rate
stays with what it is the rate of.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from switchboard.core.knowledge.chunking import SECTION_BREAK

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
#: Read a row at a time (see _TextExtractor._end_row), not a block a cell.
_TABLE_TAGS = frozenset({"table", "tr", "td", "th"})
#: Never text: scripts and styles, and a saved web page's navigation and footer (the same
#: menu and copyright on every page would be in every article).
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "nav", "footer"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


@dataclass(frozen=True)
class HtmlText:
    """The readable parts of an HTML document."""

    title: str | None  # <title>, else the first <h1>
    text: str  # paragraphs separated by blank lines; a heading opens a section (chunking.SECTION_BREAK)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._current: list[str] = []
        self._skip_depth = 0
        self._in_title = False
        self._in_h1 = False
        self.title_tag: list[str] = []
        self.first_h1: list[str] = []
        self._h1_seen = False
        self._in_heading = False
        self.headings: set[int] = set()  # the blocks that are headings, by index
        # A table is read a row at a time: its cells (each cell's text, blocks in it
        # run together), and the header row's cells, which name each later row's.
        self._row: list[str] | None = None
        self._row_is_header = False
        self._in_cell = False
        self._header: list[str] | None = None
        self._rows_written = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
            return
        if tag == "title":
            self._in_title = True
            return
        if tag == "br":
            self._current.append(" " if self._in_cell else "\n")
            return
        if tag in _TABLE_TAGS:
            self._table_start(tag)
            return
        if tag in _BLOCK_TAGS:
            if self._in_cell:  # a paragraph or list inside a cell stays in the cell
                self._current.append(" ")
                return
            self._flush()
        if tag == "li":
            self._current.append("- ")
        if tag == "h1" and not self._h1_seen:
            self._in_h1 = True
        if tag in _HEADINGS:
            self._in_heading = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "title":
            self._in_title = False
            return
        if tag == "h1" and self._in_h1:
            self._in_h1 = False
            self._h1_seen = True
        if tag in _TABLE_TAGS:
            self._table_end(tag)
            return
        if tag in _BLOCK_TAGS:
            if self._in_cell:
                self._current.append(" ")
                return
            self._flush()
        if tag in _HEADINGS:
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_title:
            self.title_tag.append(data)
            return
        if self._in_h1:
            self.first_h1.append(data)
        self._current.append(data)

    def _flush(self) -> None:
        lines = [_SPACES.sub(" ", line).strip() for line in "".join(self._current).split("\n")]
        block = "\n".join(line for line in lines if line)
        if block and block != "-":
            if block.startswith("- ") and self.blocks and self.blocks[-1].startswith("- "):
                self.blocks[-1] += "\n" + block  # a list stays one paragraph
            else:
                if self._in_heading:
                    self.headings.add(len(self.blocks))
                self.blocks.append(block)
        self._current = []

    def _table_start(self, tag: str) -> None:
        if tag == "table":
            self._flush()
            self._header, self._rows_written = None, 0
        elif tag == "tr":
            self._end_row()
            self._flush()
            self._row, self._row_is_header = [], True
        elif tag in ("td", "th"):
            self._end_cell()
            if self._row is None:  # a cell outside any row: its own row
                self._flush()
                self._row, self._row_is_header = [], True
            self._row_is_header = self._row_is_header and tag == "th"
            self._current, self._in_cell = [], True

    def _table_end(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._end_cell()
        elif tag == "tr":
            self._end_row()
        elif tag == "table":
            self._end_row()
            if self._header and not self._rows_written:
                self.blocks.append("; ".join(self._header))  # a header with no rows under it
            self._header = None

    def _end_cell(self) -> None:
        if self._in_cell and self._row is not None:
            self._row.append(_SPACES.sub(" ", " ".join("".join(self._current).split())).strip())
        self._current, self._in_cell = [], False

    def _end_row(self) -> None:
        """One block a row: "Service: Express; Time: Next working day; Price: $9.95" under
        a header row, else its cells, so a price stays with what it is the price of."""
        self._end_cell()
        row, self._row = self._row, None
        if not row or not any(row):
            return
        if self._row_is_header and self._header is None and not self._rows_written:
            self._header = row
            return
        header = self._header if self._header and len(self._header) == len(row) else None
        cells = [f"{name}: {cell}" if name and name != cell else cell
                 for name, cell in zip(header or [""] * len(row), row, strict=True) if cell]
        self.blocks.append("; ".join(cells))
        self._rows_written += 1

    def close(self) -> None:
        super().close()
        if self._row is not None or self._header is not None:
            self._table_end("table")  # a table left open: its last row and header still count
        self._flush()


def _clean(parts: list[str]) -> str | None:
    text = _SPACES.sub(" ", " ".join("".join(parts).split())).strip()
    return text or None


def html_to_text(html: str) -> HtmlText:
    """Readable text of ``html``; block elements become paragraphs, list items "- " lines,
    and each heading after the first block opens a section (SECTION_BREAK before it): an
    FAQ page's questions, a policy's parts, each of which its passages keep apart."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    title = _clean(parser.title_tag) or _clean(parser.first_h1)
    text = "".join((SECTION_BREAK if number in parser.headings else "\n\n") + block if number else block
                   for number, block in enumerate(parser.blocks))
    return HtmlText(title=title, text=text)
