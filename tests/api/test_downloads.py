"""Page downloads (`api/web/downloads.py`): XLSX read back with openpyxl, CSV read back with
the csv module, and the streamed response with its Chinese file name."""

from __future__ import annotations

import csv
import io
import random
import weakref
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest
from litestar import Litestar, Request, get
from litestar.response import Stream
from litestar.testing import TestClient
from openpyxl.worksheet.worksheet import Worksheet

from api.errors import EXCEPTION_HANDLERS
from api.web import downloads
from api.web.downloads import (
    Column,
    ExportedBy,
    Format,
    Kind,
    Provenance,
    Table,
    build,
    content_disposition,
    display_width,
    download,
    file_names,
    yuan_text,
)

EXPORTED_AT = datetime(2026, 3, 30, 2, 15, tzinfo=UTC)  # 10:15 in Beijing
BOARD = Table(
    title="集群状态一览",
    sheet="集群状态",
    ascii_name="cluster-board",
    columns=[
        Column(key="name", header={"zh": "集群名称", "en": "Cluster"}),
        Column(key="county", header={"zh": "县（市、区）", "en": "County"},
               value=lambda row: f"{row['county_name']} · {row['county']}"),
        Column(key="paid_fen", header={"zh": "已拨付（元）", "en": "Paid (yuan)"},
               kind=Kind.MONEY_FEN),
        Column(key="valid_until", header={"zh": "有效期至", "en": "Valid until"},
               kind=Kind.DATE),
        Column(key="recorded_at", header={"zh": "记录时间", "en": "Recorded"},
               kind=Kind.DATETIME),
        Column(key="score", header={"zh": "得分", "en": "Score"}, kind=Kind.DECIMAL, places=2),
        Column(key="overdue", header={"zh": "逾期", "en": "Overdue"}, kind=Kind.BOOL),
        Column(key="year", header={"zh": "年度", "en": "Year"}, kind=Kind.INT),
    ],
    totals="合计",
)
ROWS = [
    {"name": "晋江市运动鞋原辅材料产业集群", "county": "350582", "county_name": "晋江市",
     "paid_fen": 123_456_789, "valid_until": date(2028, 12, 31),
     "recorded_at": datetime(2026, 3, 29, 16, 30, tzinfo=UTC), "score": Decimal("85.5"),
     "overdue": False, "year": 2025},
    {"name": "=HYPERLINK(\"http://x\",\"点我\")", "county": "350102", "county_name": "鼓楼区",
     "paid_fen": -5, "valid_until": None, "recorded_at": None, "score": None,
     "overdue": True, "year": 2024},
]


def excel_time(*parts: int) -> datetime:
    """A spreadsheet's date-time: wall-clock, without a zone (as openpyxl reads it)."""
    return datetime(*parts, tzinfo=UTC).replace(tzinfo=None)  # type: ignore[misc]


def provenance(locale: str = "zh", **changes: Any) -> Provenance:
    fields: dict[str, Any] = {
        "exported_by": ExportedBy(user="张三", role="省级", organisation="福建省工业和信息化厅"),
        "exported_at": EXPORTED_AT,
        "locale": locale,
        "as_of_position": 12345,
        "as_of_time": datetime(2026, 3, 30, 2, 14, 59, tzinfo=UTC),
        "filters": [("状态", "已认定"), ("地区", "泉州市 · 晋江市")],
    }
    return Provenance(**{**fields, **changes})


async def _xlsx(tmp_path: Path, rows: Any = ROWS, table: Table = BOARD,
                prov: Provenance | None = None) -> Worksheet:
    path = tmp_path / "board.xlsx"
    await build(Format.XLSX, table, rows, prov or provenance(), path, tmpdir=tmp_path)
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    assert isinstance(sheet, Worksheet)
    return sheet


async def _csv(tmp_path: Path, rows: Any = ROWS, prov: Provenance | None = None) -> bytes:
    path = tmp_path / "board.csv"
    await build(Format.CSV, BOARD, rows, prov or provenance(), path, tmpdir=tmp_path)
    return path.read_bytes()


def _table_rows(sheet: Worksheet) -> list[tuple[Any, ...]]:
    """The rows from the table's header row on (the row the pane is frozen below)."""
    assert sheet.freeze_panes is not None
    header = int(sheet.freeze_panes[1:]) - 1
    return list(sheet.iter_rows(min_row=header, values_only=True))


# ---- XLSX ---------------------------------------------------------------------------------------


async def test_xlsx_sheet_has_the_chinese_name(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    assert sheet.title == "集群状态"


async def test_xlsx_sheet_name_drops_characters_excel_refuses(tmp_path: Path) -> None:
    table = Table(title="t", sheet="资金/拨付:[2025]?" + "长" * 40, ascii_name="t",
                  columns=BOARD.columns)
    sheet = await _xlsx(tmp_path, table=table)
    assert sheet.title == ("资金_拨付__2025__" + "长" * 40)[:31]


async def test_xlsx_header_block_says_what_who_when_and_which_filters(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    block = [tuple(c for c in row if c is not None)
             for row in sheet.iter_rows(max_row=7, values_only=True)]
    assert block == [
        ("集群状态一览",),
        ("数据截至", "日志位置 12345 · 读取于 2026-03-30 10:14:59 (UTC+08:00)"),
        ("导出人", "张三 · 省级 · 福建省工业和信息化厅"),
        ("导出时间", "2026-03-30 10:15:00 (UTC+08:00)"),
        ("筛选条件", "状态：已认定"),
        ("地区：泉州市 · 晋江市",),
        (),
    ]


async def test_xlsx_header_block_says_when_no_filter_applies(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path, prov=provenance("en", filters=()))
    assert [c.value for c in sheet[5] if c.value is not None] == ["Filters", "none (every row)"]


async def test_xlsx_freezes_the_panes_below_the_table_header(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    assert sheet.freeze_panes == "A9"
    assert [c.value for c in sheet[8]] == [
        "集群名称", "县（市、区）", "已拨付（元）", "有效期至", "记录时间", "得分", "逾期", "年度",
    ]
    assert sheet.auto_filter.ref == "A8:H10"  # the table's rows, not the totals row
    assert sheet.print_title_rows == "$8:$8"


async def test_xlsx_headers_follow_the_locale(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path, prov=provenance("en"))
    assert _table_rows(sheet)[0][:3] == ("Cluster", "County", "Paid (yuan)")
    assert sheet["A2"].value == "Data as of"


async def test_xlsx_money_is_a_number_in_yuan_with_a_yuan_format(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    paid = [sheet.cell(row=r, column=3) for r in (9, 10)]
    assert [c.value for c in paid] == [1234567.89, -0.05]
    assert all(c.data_type == "n" for c in paid)
    assert {c.number_format for c in paid} == {"¥#,##0.00"}


async def test_xlsx_totals_row_sums_the_money_exactly_in_fen(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    total = sheet.cell(row=11, column=3)
    assert sheet.cell(row=11, column=1).value == "合计"
    assert total.value == 1234567.84
    assert total.number_format == "¥#,##0.00"


async def test_xlsx_money_reads_back_as_the_exact_amount(tmp_path: Path) -> None:
    # XlsxWriter writes 16 significant digits (96.85 as 96.84999999999999): what Excel reads
    # back is the same double, the one nearest the amount, whose shortest form is the amount.
    rng = random.Random(13)  # noqa: S311 - a reproducible sample, not a secret
    amounts = [0, 1, -1, 9685, 10**13 - 1, -(10**13) + 1, *(
        rng.randrange(-(10**15), 10**15) for _ in range(2000))]
    table = Table(title="t", sheet="t", ascii_name="t",
                  columns=[Column(key="fen", header="金额", kind=Kind.MONEY_FEN)])
    sheet = await _xlsx(tmp_path, rows=[{"fen": fen} for fen in amounts], table=table)
    read = [row[0] for row in _table_rows(sheet)[1:]]
    assert [Decimal(repr(value)) for value in read] == [Decimal(fen) / 100 for fen in amounts]


async def test_xlsx_dates_are_dates_with_a_date_format(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    cell = sheet.cell(row=9, column=4)
    assert cell.is_date
    assert cell.value == excel_time(2028, 12, 31)
    assert cell.number_format == 'yyyy"年"m"月"d"日"'


async def test_xlsx_instants_are_dates_in_china_standard_time(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    cell = sheet.cell(row=9, column=5)
    assert cell.is_date
    assert cell.value == excel_time(2026, 3, 30, 0, 30)  # 16:30 UTC the day before


async def test_xlsx_writes_a_formula_like_name_as_text(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    cell = sheet.cell(row=10, column=1)
    assert cell.data_type == "s"
    assert cell.value == ROWS[1]["name"]


async def test_xlsx_other_kinds(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    first, second = _table_rows(sheet)[1:3]
    assert first[1:] == ("晋江市 · 350582", 1234567.89, excel_time(2028, 12, 31),
                         excel_time(2026, 3, 30, 0, 30), 85.5, "否", 2025)
    assert second[3:] == (None, None, None, "是", 2024)
    assert sheet.cell(row=9, column=6).number_format == "0.00"


def _width(sheet: Worksheet, column: int) -> float:
    """A column's width (openpyxl keys a run of equal columns by its first letter)."""
    for dimension in sheet.column_dimensions.values():
        if dimension.min <= column <= dimension.max:
            return float(dimension.width)
    raise AssertionError(f"no width for column {column}")


async def test_xlsx_column_widths_count_chinese_characters_twice(tmp_path: Path) -> None:
    sheet = await _xlsx(tmp_path)
    # XlsxWriter adds its own padding (a fraction of a character) to each width.
    assert int(_width(sheet, 1)) == display_width(ROWS[1]["name"]) + 2 == 31
    assert int(_width(sheet, 8)) == 8  # "年度" and four digits: the narrowest width, 6, + 2


def test_display_width_counts_wide_characters_as_two() -> None:
    assert display_width("晋江 ab１") == 2 + 2 + 1 + 1 + 1 + 2


async def test_xlsx_is_written_in_constant_memory_mode(tmp_path: Path) -> None:
    # constant_memory writes strings inline: there is no shared-strings table to grow.
    path = tmp_path / "board.xlsx"
    await build(Format.XLSX, BOARD, ROWS, provenance(), path, tmpdir=tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert "xl/sharedStrings.xml" not in archive.namelist()
        assert b'inlineStr' in archive.read("xl/worksheets/sheet1.xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.xlsx"]  # scratch files gone


class _Row:
    """A row that the test can see being released."""

    def __init__(self, n: int) -> None:
        self.name, self.paid_fen = f"集群{n}", n


async def test_rows_are_written_and_released_a_chunk_at_a_time(tmp_path: Path) -> None:
    alive: weakref.WeakSet[_Row] = weakref.WeakSet()
    most = 0

    async def rows() -> AsyncIterator[_Row]:
        nonlocal most
        for n in range(3000):
            row = _Row(n)
            alive.add(row)
            most = max(most, len(alive))
            yield row
            del row

    table = Table(title="t", sheet="t", ascii_name="t", columns=[
        Column(key="name", header="名称"), Column(key="paid_fen", header="金额",
                                                  kind=Kind.MONEY_FEN)])
    for fmt in Format:
        most = 0
        await build(fmt, table, rows(), provenance(), tmp_path / f"t.{fmt}", tmpdir=tmp_path)
        assert most <= downloads.CHUNK_ROWS + 1, fmt


# ---- CSV ----------------------------------------------------------------------------------------


async def test_csv_starts_with_a_bom_and_ends_lines_with_crlf(tmp_path: Path) -> None:
    body = await _csv(tmp_path)
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.count(b"\r\n") == 4  # header, two rows, totals
    assert b"\n" not in body.replace(b"\r\n", b"")


async def test_csv_round_trips_with_chinese_text(tmp_path: Path) -> None:
    body = await _csv(tmp_path)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["集群名称", "县（市、区）", "已拨付（元）", "有效期至", "记录时间", "得分",
                       "逾期", "年度"]
    assert rows[1] == ["晋江市运动鞋原辅材料产业集群", "晋江市 · 350582", "1234567.89",
                       "2028-12-31", "2026-03-30T00:30:00+08:00", "85.50", "否", "2025"]
    assert rows[3] == ["合计", "", "1234567.84", "", "", "", "", ""]


async def test_csv_puts_the_table_on_line_one(tmp_path: Path) -> None:
    body = await _csv(tmp_path, prov=provenance("en"))
    assert body.decode("utf-8-sig").split("\r\n")[0].startswith("Cluster,County,Paid (yuan)")


async def test_csv_defuses_cells_excel_would_run_as_formulas(tmp_path: Path) -> None:
    body = await _csv(tmp_path)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[2][0] == "'" + ROWS[1]["name"]
    assert rows[2][2] == "-0.05"  # a number stays a number


@pytest.mark.parametrize(("fen", "text"), [
    (0, "0.00"), (1, "0.01"), (-1, "-0.01"), (100, "1.00"), (-123456, "-1234.56"),
    (2**63 + 7, "92233720368547758.15"),
])
def test_yuan_text_is_exact_from_integer_fen(fen: int, text: str) -> None:
    assert yuan_text(fen) == text


def test_money_refuses_a_float() -> None:
    with pytest.raises(TypeError):
        yuan_text(12.5)  # type: ignore[arg-type]


def test_percent_and_decimal_text() -> None:
    prov = provenance()
    percent = Column(key="r", header="比例", kind=Kind.PERCENT)
    assert downloads.csv_cell(percent, Decimal("0.855"), prov) == "85.5%"
    assert downloads.csv_cell(percent, Decimal("1"), prov) == "100%"
    fixed = Column(key="r", header="比例", kind=Kind.PERCENT, places=1)
    assert downloads.csv_cell(fixed, Decimal("0.12345"), prov) == "12.3%"


def test_provenance_refuses_an_unknown_locale() -> None:
    with pytest.raises(ValueError, match="locale"):
        provenance("fr")


# ---- file names and the streamed response ------------------------------------------------------


def test_file_names_carry_title_time_and_position() -> None:
    assert file_names(BOARD, provenance(), Format.XLSX) == (
        "集群状态一览_2026-03-30_1014_位置12345.xlsx",
        "cluster-board_2026-03-30_1014_pos12345.xlsx",
    )


def test_content_disposition_has_an_ascii_name_and_the_chinese_one() -> None:
    header = content_disposition('集群 "状态"/一览.csv', "board\r\nX-Evil: 1.csv")
    assert header.isascii()
    assert header.startswith('attachment; filename="board-X-Evil-1.csv"; filename*=UTF-8\'\'')
    assert unquote(header.split("''", 1)[1]) == '集群 "状态"/一览.csv'
    assert " " not in header.split("''", 1)[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[TestClient[Any]]:
    @get("/board")
    async def board(request: Request[Any, Any, Any]) -> Stream:
        fmt = request.query_params["format"]
        return await download(fmt, BOARD, ROWS, provenance(), tmpdir=tmp_path)

    app = Litestar([board], exception_handlers=EXCEPTION_HANDLERS)
    with TestClient(app) as client:
        yield client


def test_xlsx_download_is_an_attachment_with_its_chinese_name(
    served: TestClient[Any], tmp_path: Path
) -> None:
    response = served.get("/board", params={"format": "xlsx"})
    assert response.status_code == 200
    assert response.headers["content-type"] == downloads.XLSX_MEDIA_TYPE
    disposition = response.headers["content-disposition"]
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == (
        "集群状态一览_2026-03-30_1014_位置12345.xlsx")
    assert 'filename="cluster-board_2026-03-30_1014_pos12345.xlsx"' in disposition
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["cache-control"] == "private, no-store"
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["集群状态"]
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone


def test_csv_download_is_utf8_csv_with_a_bom(served: TestClient[Any]) -> None:
    response = served.get("/board", params={"format": "csv"})
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf\xe9\x9b\x86")  # BOM, 集
    assert response.headers["content-disposition"].endswith(".csv")


def test_a_download_too_large_for_a_sheet_is_a_problem_and_leaves_no_file(
    served: TestClient[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downloads, "XLSX_MAX_ROWS", 10)  # the header block takes 8 rows
    response = served.get("/board", params={"format": "xlsx"})
    assert response.status_code == 422
    assert response.json()["code"] == "download_too_large"
    assert list(tmp_path.iterdir()) == []


def test_a_format_other_than_csv_or_xlsx_is_a_problem(served: TestClient[Any]) -> None:
    response = served.get("/board", params={"format": "pdf"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["errors"][0]["field"] == "format"
