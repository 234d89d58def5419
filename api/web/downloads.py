"""A table page as a download: CSV for Excel, or XLSX, from one column spec and one row iterator.

Every table page (board, funding, deadlines, a case's timeline and vouchers, the auditor's page)
declares its columns once (`Column`: key, header, kind) and hands its rows, as an iterator or
an async iterator, to `download()`. The file is built off the event loop into a temporary file
(rows are never held in memory: CSV is written row by row, XLSX by XlsxWriter in
`constant_memory` mode, which flushes each row as the next begins), then streamed with
`Content-Disposition: attachment` (a Chinese name per RFC 5987/6266, an ASCII fallback) and a
`Content-Length`. A failure while building answers a problem before the first byte; nothing
half-written reaches the user. The temporary file is unlinked as soon as it is opened for
streaming, so nothing is left behind even if the client goes away.

Decisions:

- **The header block** (title, data as of, who exported, the filters, the export time) is in
  the XLSX, above the table. A CSV holds the table alone, its header row on line 1: Excel,
  WPS, Power Query and every csv reader take line 1 as the column names, and leading "comment"
  lines would become data rows that break sorting, filters and imports. The CSV's file name
  carries the title, the time the data reflects and the log position; the rest of the block is
  what the XLSX is for.
- **Money** (`Kind.MONEY_FEN`) is integer fen in, yuan out. CSV: `1234.56` from integer
  arithmetic, no thousands separator (Excel reads it as a number). XLSX: a *number*, fen / 100,
  with the format `¥#,##0.00`, so that Excel can sum it. `fen / 100` is Python's correctly
  rounded int division: the double nearest the exact amount, the very number Excel stores when
  a person types that amount. XlsxWriter writes it with 16 significant digits, which read back
  to the same double (checked in the tests), and Excel shows at most 15, so every amount below
  10^13 yuan displays exactly. A SUM over n such cells is off by at most n half-units in the
  last place of the total (2^-53 of it): for the province's whole funding board (~10^4 rows,
  ~10^10 yuan) ~10^-2 yuan in the worst case and ~10^-4 in practice; when exactness to the fen
  matters, `Table.totals` adds a totals row summed here in integer fen. Integer fen with a
  display-only format was refused: every formula a user writes would then compute in fen.
- **Dates** are real Excel dates (`yyyy"年"m"月"d"日"` in Chinese, `yyyy-mm-dd` in English);
  instants are shown in China Standard Time (UTC+8, no daylight saving), the offset stated in
  the header block; in CSV both are ISO 8601 (instants with their offset).
- **Text** is always written as text: in the XLSX with `write_string` (never a formula, a URL or
  a number), and in the CSV a cell that Excel would read as a formula (starting with = + - @,
  a tab or a carriage return) gets a leading apostrophe, OWASP's advice against CSV injection:
  names and reasons come from users. The JSON API's CSV (`api/routes/reads.py`) is for machines
  and keeps its values untouched, without a BOM.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import tempfile
import unicodedata
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import anyio.to_thread
from litestar.response import Stream

from api.errors import ApiError, invalid_field

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "UTC+08:00")
LOCALES = ("zh", "en")
CSV_MEDIA_TYPE = "text/csv"  # Litestar adds "; charset=utf-8" to a text/ type itself
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAX_ROWS = 1_048_576  # Excel's sheet
CHUNK_ROWS = 500  # rows handed to the writer thread at a time
READ_CHUNK = 64 * 1024  # bytes per streamed body chunk

MONEY_FORMAT = "¥#,##0.00"
DATE_FORMATS = {"zh": 'yyyy"年"m"月"d"日"', "en": "yyyy-mm-dd"}
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

# The header block's words. The lead may take them from the message catalogue instead
# (`Provenance.labels` overrides any of them).
LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "data_as_of": "数据截至",
        "position": "日志位置 {position}",
        "read_at": "读取于 {time}",
        "exported_by": "导出人",
        "exported_at": "导出时间",
        "filters": "筛选条件",
        "no_filters": "无（全部）",
        "filter": "{name}：{value}",
        "yes": "是",
        "no": "否",
        "file_position": "位置",
    },
    "en": {
        "data_as_of": "Data as of",
        "position": "log position {position}",
        "read_at": "read at {time}",
        "exported_by": "Exported by",
        "exported_at": "Exported at",
        "filters": "Filters",
        "no_filters": "none (every row)",
        "filter": "{name}: {value}",
        "yes": "yes",
        "no": "no",
        "file_position": "pos",
    },
}


class Kind(StrEnum):
    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"  # an aware instant, shown in the export's time zone
    INT = "int"
    MONEY_FEN = "money_fen"  # integer fen, shown as yuan
    DECIMAL = "decimal"
    PERCENT = "percent"  # a ratio (0.855 shows as 85.50%)
    BOOL = "bool"


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True, kw_only=True)
class Column:
    """One column of a download.

    `header`: the text in the export's locale, or one text per locale (`{"zh": …, "en": …}`).
    `value`: how to read the cell from a row (default: the row's attribute, or item for a
    mapping, named `key`), e.g. to put a region's name beside its code.
    `places`: decimal places of a DECIMAL or PERCENT column (default: as the value has them).
    """

    key: str
    header: str | Mapping[str, str]
    kind: Kind = Kind.TEXT
    places: int | None = None
    value: Callable[[Any], Any] | None = None

    def header_in(self, locale: str) -> str:
        return self.header if isinstance(self.header, str) else self.header[locale]

    def read(self, row: Any) -> Any:
        if self.value is not None:
            return self.value(row)
        if isinstance(row, Mapping):
            return row[self.key]
        return getattr(row, self.key)


@dataclass(frozen=True, kw_only=True)
class Table:
    """What is downloaded: `title` heads the header block and names the file; `sheet` names
    the XLSX sheet (at most 31 characters, no []:*?/\\); `ascii_name` is the file name for
    clients that cannot read RFC 5987 names; `totals`, when set, labels a last row with every
    money column summed exactly, in integer fen."""

    title: str
    sheet: str
    ascii_name: str
    columns: Sequence[Column]
    totals: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExportedBy:
    """Who exported, as the page shows them (role and organisation already in words)."""

    user: str
    role: str
    organisation: str

    def text(self) -> str:
        return " · ".join(part for part in (self.user, self.role, self.organisation) if part)


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """The header block: what the data reflects, who exported it, under which filters, when.

    `as_of_position`: the log position every view had processed when the rows were read (see
    `snapshot`); `as_of_time`: when that was read. `filters`: (name, value) pairs as the page
    shows them, only the ones applied.
    """

    exported_by: ExportedBy
    exported_at: datetime
    locale: str = "zh"
    as_of_position: int | None = None
    as_of_time: datetime | None = None
    filters: Sequence[tuple[str, str]] = ()
    timezone: tzinfo = CHINA_STANDARD_TIME
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.locale not in LOCALES:
            raise ValueError(f"locale is one of {LOCALES}, not {self.locale!r}")

    def label(self, key: str, **params: Any) -> str:
        text = self.labels.get(key) or LABELS[self.locale][key]
        return text.format(**params) if params else text

    def local(self, instant: datetime) -> datetime:
        """`instant` in the export's time zone (a naive instant is taken as UTC)."""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(self.timezone)

    def time_text(self, instant: datetime) -> str:
        local = self.local(instant)
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%d %H:%M:%S} (UTC{offset[:3]}:{offset[3:]})"

    def as_of_text(self) -> str:
        parts = []
        if self.as_of_position is not None:
            parts.append(self.label("position", position=self.as_of_position))
        if self.as_of_time is not None:
            parts.append(self.label("read_at", time=self.time_text(self.as_of_time)))
        return " · ".join(parts) or "—"

    def block(self) -> list[tuple[str, str]]:
        """The header block's lines after the title, as (label, text); one line per filter."""
        lines = [
            (self.label("data_as_of"), self.as_of_text()),
            (self.label("exported_by"), self.exported_by.text()),
            (self.label("exported_at"), self.time_text(self.exported_at)),
        ]
        filters = [self.label("filter", name=name, value=value) for name, value in self.filters]
        for i, text in enumerate(filters or [self.label("no_filters")]):
            lines.append((self.label("filters") if i == 0 else "", text))
        return lines


# ---- cell values ------------------------------------------------------------------------------


def yuan_text(fen: int) -> str:
    """Integer fen as yuan with two decimals ("-1234.05"), by integer arithmetic only."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"money is integer fen, not {type(fen).__name__}")
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"


def yuan_number(fen: int) -> float:
    """Integer fen as a yuan number for a spreadsheet cell: the double nearest the exact
    amount (int / int is correctly rounded), what Excel stores for the typed amount."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"money is integer fen, not {type(fen).__name__}")
    return fen / 100


def _decimal_text(value: Any, places: int | None) -> str:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places))
    return format(number, "f")


def _text(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "; ".join(_text(item) for item in value)
    return str(value)


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a wide (CJK) character counts 2."""
    return len(text) if text.isascii() else _wide_width(text)


@functools.lru_cache(maxsize=4096)  # a board repeats its statuses, regions and industries
def _wide_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _percent_text(column: Column, value: Any) -> str:
    percent = (value if isinstance(value, Decimal) else Decimal(str(value))) * 100
    if column.places is None:
        percent = percent.normalize()  # 0.855 -> "85.5%", not "85.500%"
    return _decimal_text(percent, column.places) + "%"


def _safe_text(value: Any) -> str:
    text = _text(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


_CSV_TEXT: dict[Kind, Callable[[Column, Any, Provenance], str]] = {
    Kind.MONEY_FEN: lambda _c, value, _p: yuan_text(value),
    Kind.DATE: lambda _c, value, _p: str(value.isoformat()),
    Kind.DATETIME: lambda _c, value, p: p.local(value).isoformat(timespec="seconds"),
    Kind.INT: lambda _c, value, _p: str(int(value)),
    Kind.DECIMAL: lambda c, value, _p: _decimal_text(value, c.places),
    Kind.PERCENT: lambda c, value, _p: _percent_text(c, value),
    Kind.BOOL: lambda _c, value, p: p.label("yes" if value else "no"),
    Kind.TEXT: lambda _c, value, _p: _safe_text(value),
}


def csv_cell(column: Column, value: Any, provenance: Provenance) -> str:
    """The CSV text of one cell (see the module's decisions)."""
    if value is None:
        return ""
    return _CSV_TEXT[column.kind](column, value, provenance)


# ---- writers ----------------------------------------------------------------------------------


class TableWriter(Protocol):
    def write_rows(self, rows: Iterable[Any]) -> None: ...

    def close(self) -> None: ...


class _Totals:
    """Exact sums of the money columns, in integer fen."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.indexes = [i for i, c in enumerate(columns) if c.kind is Kind.MONEY_FEN]
        self.sums = dict.fromkeys(self.indexes, 0)

    def add(self, values: Sequence[Any]) -> None:
        for i in self.indexes:
            if values[i] is not None:
                self.sums[i] += values[i]


class CsvTableWriter:
    """CSV for Excel: UTF-8 with a BOM, CRLF, headers in the export's locale."""

    def __init__(self, path: Path, table: Table, provenance: Provenance) -> None:
        self.table, self.provenance = table, provenance
        self.totals = _Totals(table.columns)
        self.file = path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.file, lineterminator="\r\n")
        self.writer.writerow(c.header_in(provenance.locale) for c in table.columns)
        self.rows = 0

    def write_rows(self, rows: Iterable[Any]) -> None:
        columns, provenance = self.table.columns, self.provenance
        for row in rows:
            values = [column.read(row) for column in columns]
            self.totals.add(values)
            self.writer.writerow(
                csv_cell(column, value, provenance)
                for column, value in zip(columns, values, strict=True)
            )
            self.rows += 1

    def close(self) -> None:
        try:
            if self.table.totals is not None:
                self.writer.writerow(
                    yuan_text(self.totals.sums[i]) if i in self.totals.sums
                    else (self.table.totals if i == 0 else "")
                    for i in range(len(self.table.columns))
                )
        finally:
            self.file.close()


def sheet_name(name: str) -> str:
    """A valid Excel sheet name: no []:*?/\\, no apostrophe at either end, ≤ 31 characters."""
    cleaned = _SHEET_FORBIDDEN.sub("_", name).strip("'")[:31]
    return cleaned or "Sheet1"


class XlsxTableWriter:
    """XLSX by XlsxWriter in constant_memory mode: each row goes to a temporary file as the
    next one starts, so memory stays flat in the number of rows. The header block sits above
    the table; the rows down to the table's header row are frozen."""

    def __init__(self, path: Path, table: Table, provenance: Provenance, tmpdir: Path) -> None:
        import xlsxwriter

        self.table, self.provenance = table, provenance
        self.totals = _Totals(table.columns)
        self.book = xlsxwriter.Workbook(str(path), {
            "constant_memory": True, "in_memory": False, "tmpdir": str(tmpdir),
            "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False,
        })
        self.book.set_properties({
            "title": table.title, "author": provenance.exported_by.user,
            "company": provenance.exported_by.organisation,
            "comments": provenance.as_of_text(),
            "created": provenance.local(provenance.exported_at).replace(tzinfo=None),
        })
        self.sheet = self.book.add_worksheet(sheet_name(table.sheet))
        add = self.book.add_format
        self.bold = add({"bold": True})
        self.title_format = add({"bold": True, "font_size": 14})
        self.header_format = add({"bold": True, "bottom": 1, "bg_color": "#EEEEEE"})
        self.formats: dict[Kind, Any] = {
            Kind.MONEY_FEN: add({"num_format": MONEY_FORMAT}),
            Kind.DATE: add({"num_format": DATE_FORMATS[provenance.locale]}),
            Kind.DATETIME: add({"num_format": DATETIME_FORMAT}),
        }
        self.place_formats: dict[tuple[Kind, int | None], Any] = {}
        self.widths = [display_width(c.header_in(provenance.locale)) for c in table.columns]
        self.row = self._write_block()
        self.header_row = self.row
        for col, column in enumerate(table.columns):
            self.sheet.write_string(self.row, col, column.header_in(provenance.locale),
                                    self.header_format)
        self.sheet.freeze_panes(self.header_row + 1, 0)
        self.sheet.repeat_rows(self.header_row)  # printed on every page
        self.row += 1
        self.first_data_row = self.row

    def _write_block(self) -> int:
        sheet = self.sheet
        sheet.write_string(0, 0, self.table.title, self.title_format)
        row = 1
        for label, text in self.provenance.block():
            if label:
                sheet.write_string(row, 0, label, self.bold)
                self.widths[0] = max(self.widths[0], display_width(label))
            sheet.write_string(row, 1, text)
            row += 1
        return row + 1  # a blank row between the block and the table

    def _number_format(self, column: Column) -> Any:
        key = (column.kind, column.places)
        if key not in self.place_formats:
            if column.kind is Kind.PERCENT:
                digits = 2 if column.places is None else column.places
                pattern = "0" + ("." + "0" * digits if digits else "") + "%"
            elif column.places is None:
                pattern = "General"
            else:
                pattern = "0" + ("." + "0" * column.places if column.places else "")
            self.place_formats[key] = self.book.add_format({"num_format": pattern})
        return self.place_formats[key]

    def write_rows(self, rows: Iterable[Any]) -> None:
        columns = self.table.columns
        for row_value in rows:
            if self.row >= XLSX_MAX_ROWS - 1:
                raise ApiError(
                    422, "download_too_large",
                    f"more rows than an Excel sheet holds ({XLSX_MAX_ROWS:,}); narrow the "
                    "filters or download CSV",
                )
            values = [column.read(row_value) for column in columns]
            self.totals.add(values)
            for col, (column, value) in enumerate(zip(columns, values, strict=True)):
                if value is not None:
                    width = self._write_cell(self.row, col, column, value)
                    self.widths[col] = max(self.widths[col], width)
            self.row += 1

    def _write_cell(self, row: int, col: int, column: Column, value: Any) -> int:
        """Write one cell; its display width."""
        kind, sheet = column.kind, self.sheet
        if kind is Kind.MONEY_FEN:
            sheet.write_number(row, col, yuan_number(value), self.formats[kind])
            return len(f"{abs(value) // 100:,}") + 5
        if kind is Kind.DATE:
            sheet.write_datetime(row, col, value, self.formats[kind])
            return 14 if self.provenance.locale == "zh" else 10
        if kind is Kind.DATETIME:
            local = self.provenance.local(value).replace(tzinfo=None)
            sheet.write_datetime(row, col, local, self.formats[kind])
            return 19
        if kind is Kind.INT:
            sheet.write_number(row, col, int(value))
            return len(str(int(value)))
        if kind in (Kind.DECIMAL, Kind.PERCENT):
            sheet.write_number(row, col, float(value), self._number_format(column))
            return len(csv_cell(column, value, self.provenance))
        text = self.provenance.label("yes" if value else "no") if kind is Kind.BOOL else (
            _text(value))
        sheet.write_string(row, col, text)
        return display_width(text)

    def close(self) -> None:
        try:
            last = self.row - 1
            if self.table.totals is not None:
                self.sheet.write_string(self.row, 0, self.table.totals, self.bold)
                for i, fen in self.totals.sums.items():
                    self.sheet.write_number(self.row, i, yuan_number(fen),
                                            self.formats[Kind.MONEY_FEN])
            # The filter covers the table's rows only: a sort leaves the totals row last.
            self.sheet.autofilter(self.header_row, 0, max(last, self.header_row),
                                  len(self.table.columns) - 1)
            for col, width in enumerate(self.widths):
                self.sheet.set_column(col, col, min(max(width, 6), 60) + 2)
            self.sheet.set_landscape()
            self.sheet.fit_to_pages(1, 0)
        finally:
            self.book.close()


# ---- building and streaming --------------------------------------------------------------------


def _writer(fmt: Format, path: Path, table: Table, provenance: Provenance,
            tmpdir: Path) -> TableWriter:
    if fmt is Format.XLSX:
        return XlsxTableWriter(path, table, provenance, tmpdir)
    return CsvTableWriter(path, table, provenance)


async def _chunks(rows: AsyncIterable[Any], size: int) -> AsyncIterator[list[Any]]:
    chunk: list[Any] = []
    async for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def build(
    fmt: Format, table: Table, rows: Iterable[Any] | AsyncIterable[Any],
    provenance: Provenance, path: Path, *, tmpdir: Path | None = None,
) -> None:
    """Write the download to `path`, off the event loop: rows from an async iterator (a
    database read) are handed to the writer thread `CHUNK_ROWS` at a time; a sync iterable is
    read in the writer thread itself."""
    scratch = tmpdir or Path(tempfile.gettempdir())
    run = anyio.to_thread.run_sync
    writer = await run(_writer, fmt, path, table, provenance, scratch)
    try:
        if isinstance(rows, AsyncIterable):
            async for chunk in _chunks(rows, CHUNK_ROWS):
                await run(writer.write_rows, chunk)
                # The worker thread may hold on to its last arguments: empty the list, so that
                # these rows are released before the next chunk fills.
                chunk.clear()
        else:
            await run(writer.write_rows, rows)
    except BaseException:
        # The file is thrown away: close it (and XlsxWriter's scratch files) without letting
        # an error there hide the one that stopped the build.
        with suppress(Exception):
            await run(writer.close)
        raise
    await run(writer.close)


def file_names(table: Table, provenance: Provenance, fmt: Format) -> tuple[str, str]:
    """(name in the locale, ASCII fallback): title, the time the data reflects (or of the
    export), and the log position, e.g. 集群状态一览_2026-03-30_1815_位置12345.xlsx."""
    when = provenance.local(provenance.as_of_time or provenance.exported_at)
    stamp = f"{when:%Y-%m-%d_%H%M}"
    position = provenance.as_of_position
    title = _UNSAFE_FILE_CHARS.sub("_", table.title).strip(" .") or "download"
    ascii_title = _ASCII_NAME.sub("-", table.ascii_name).strip("-.") or "download"
    suffix = "" if position is None else f"_{provenance.label('file_position')}{position}"
    ascii_suffix = "" if position is None else f"_pos{position}"
    return (f"{title}_{stamp}{suffix}.{fmt}", f"{ascii_title}_{stamp}{ascii_suffix}.{fmt}")


def content_disposition(name: str, fallback: str) -> str:
    """`attachment` with an ASCII `filename` and the real one as `filename*` (RFC 6266 and
    RFC 5987: UTF-8, percent-encoded; only attr-chars left as they are)."""
    ascii_name = _ASCII_NAME.sub("-", fallback).strip("-") or "download"
    encoded = quote(name, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"


async def _stream_file(handle: Any) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(handle.read, READ_CHUNK):
            yield chunk
    finally:
        handle.close()


async def download(
    fmt: Format | str, table: Table, rows: Iterable[Any] | AsyncIterable[Any],
    provenance: Provenance, *, tmpdir: Path | None = None,
) -> Stream:
    """The download as a Litestar `Stream` response (built first, then streamed). `fmt` as the
    page's `?format=` gave it: anything but csv or xlsx is a 400 problem."""
    if fmt not in set(Format):
        raise invalid_field("format", "one of csv, xlsx", source="query")
    fmt = Format(fmt)
    scratch = tmpdir or Path(tempfile.gettempdir())
    descriptor, name = tempfile.mkstemp(prefix="download-", suffix=f".{fmt}", dir=scratch)
    os.close(descriptor)
    path = Path(name)
    try:
        await build(fmt, table, rows, provenance, path, tmpdir=scratch)
        handle = path.open("rb")
    finally:
        path.unlink(missing_ok=True)  # an open handle keeps the data until it is closed
    size = os.fstat(handle.fileno()).st_size
    local, fallback = file_names(table, provenance, fmt)
    return TypedStream(
        _stream_file(handle),
        media_type=CSV_MEDIA_TYPE if fmt is Format.CSV else XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": content_disposition(local, fallback),
            "Content-Length": str(size),
            "Cache-Control": "private, no-store",
        },
    )


class TypedStream(Stream):
    """A `Stream` that keeps its own media type. Litestar 2.25's streaming response prefers the
    handler's media type over the response's (the reverse of its docstring and of `Response`),
    so a page handler's HTML or JSON default would label a CSV or XLSX download."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["media_type"] = self.media_type
        return super().to_asgi_response(*args, **kwargs)


# ---- reading the rows ---------------------------------------------------------------------------


class Page(Protocol):
    @property
    def items(self) -> Sequence[Any]: ...

    @property
    def next(self) -> str | None: ...


async def all_pages(fetch: Callable[[str | None], Awaitable[Page]]) -> AsyncIterator[Any]:
    """Every item of a keyset-paginated list, page by page: `fetch(cursor)` is one call of a
    list query (`projections.queries.list_clusters` and the like) with that cursor. Only one
    page is in memory at a time."""
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if page.next is None:
            return
        cursor = page.next


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    conn: Any  # an asyncpg connection inside the snapshot's transaction
    position: int  # every view had processed this log position
    read_at: datetime  # the transaction's start (the database's clock)


@asynccontextmanager
async def snapshot(pool: Any) -> AsyncIterator[Snapshot]:
    """A connection in a read-only REPEATABLE READ transaction, the log position every view
    had processed in its snapshot, and when: the pages read on it are one consistent picture
    of the views "as of" that position (a view may be ahead of it, never behind), however
    many queries the download takes. Pass `position` and `read_at` to `Provenance`."""
    from projections.positions import LOWEST_POSITION_SQL

    async with pool.acquire() as conn, conn.transaction(
        isolation="repeatable_read", readonly=True
    ):
        position = await conn.fetchval(LOWEST_POSITION_SQL)
        read_at = await conn.fetchval("SELECT now()")
        yield Snapshot(conn=conn, position=int(position or 0), read_at=read_at)
