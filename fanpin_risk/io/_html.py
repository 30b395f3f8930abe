"""Tables of an HTML page: what a web system's "export to Excel" often saves as ``.xls``.

Read with the standard library's HTML parser (no lxml or html5lib needed).
Merged cells (``colspan``/``rowspan``) leave empty cells beside and below their
value, as a merged Excel range does once read, so the header rules apply alike.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: A span beyond this is taken as 1 (a damaged attribute must not build a huge grid).
_MAX_SPAN = 500
_SPACE = re.compile(r"\s+")


class _Tables(HTMLParser):
    """Collects every ``<table>`` as rows of ``(text, colspan, rowspan)`` cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[tuple[str, int, int]]]] = []
        self._open: list[dict] = []  # tables being read (nested tables are read on their own)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._open.append({"rows": [], "row": None, "cell": None})
            return
        if not self._open:
            return
        t = self._open[-1]
        if tag == "tr":
            self._end_row(t)
            t["row"] = []
        elif tag in ("td", "th"):
            self._end_cell(t)
            if t["row"] is None:
                t["row"] = []
            a = dict(attrs)
            t["cell"] = {"text": [], "colspan": _span(a.get("colspan")), "rowspan": _span(a.get("rowspan"))}
        elif tag == "br" and t["cell"] is not None:
            t["cell"]["text"].append("\n")

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            return
        t = self._open[-1]
        if tag == "table":
            self._end_row(t)
            self.tables.append(self._open.pop()["rows"])
        elif tag in ("td", "th"):
            self._end_cell(t)
        elif tag == "tr":
            self._end_row(t)

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1]["cell"] is not None:
            # the page's own line breaks and indentation are layout; <br> is the cell's line break
            self._open[-1]["cell"]["text"].append(_SPACE.sub(" ", data))

    def close(self) -> None:
        super().close()
        while self._open:  # a page cut off before </table>
            t = self._open.pop()
            self._end_row(t)
            self.tables.append(t["rows"])

    @staticmethod
    def _end_cell(t: dict) -> None:
        c = t["cell"]
        if c is not None:
            text = "".join(c["text"]).strip()
            t["row"].append((text, c["colspan"], c["rowspan"]))
            t["cell"] = None

    def _end_row(self, t: dict) -> None:
        self._end_cell(t)
        if t["row"] is not None:
            t["rows"].append(t["row"])
            t["row"] = None


def _span(v: str | None) -> int:
    try:
        n = int(str(v).strip())
    except ValueError:
        return 1
    return n if 1 <= n <= _MAX_SPAN else 1


def _grid(rows: list[list[tuple[str, int, int]]]) -> list[list[str | None]]:
    """Cells placed as a spreadsheet shows them: a merged cell's value top left, empty cells for the rest."""
    out: list[list[str | None]] = []
    below: dict[int, int] = {}  # column → rows still covered by a rowspan from above
    for cells in rows:
        row: list[str | None] = []
        k = 0
        while k < len(cells) or any(v > 0 and c >= len(row) for c, v in below.items()):
            col = len(row)
            if below.get(col, 0) > 0:
                below[col] -= 1
                row.append(None)
                continue
            if k >= len(cells):  # a gap left of a column still covered from above
                row.append(None)
                continue
            text, colspan, rowspan = cells[k]
            k += 1
            row.append(text or None)
            row.extend([None] * (colspan - 1))
            if rowspan > 1:
                for c in range(col, col + colspan):
                    below[c] = rowspan - 1
        out.append(row)
    return out


def _html_tables(text: str) -> list[list[list[str | None]]]:
    """Every table of the page ``text`` as rows of cells (None: empty)."""
    p = _Tables()
    p.feed(text)
    p.close()
    return [_grid(t) for t in p.tables if t]
