"""The pages over the real stack: the app on a database of its own holding the demo data, signed
in through the form as accounts of several roles. Every page answers HTML in Chinese (English on
request), inside the reader's jurisdiction, and every table page answers CSV and XLSX with the
same filters. (The browser tests check the same pages in chromium: axe, keyboard, screenshots.)
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import openpyxl
import pytest
from litestar.testing import TestClient

from api.app import create_app
from infra.database import ConnectionInfo
from infra.demo import load_demo
from infra.settings import Settings
from projections.positions import wait_for_position
from tests.api.web_support import new_account, sign_in
from tests.integration.audit_support import fresh_database

ZH_BOM = "\ufeff"


class Site:
    def __init__(self, client: TestClient[Any], conn: ConnectionInfo) -> None:
        self.client = client
        self.conn = conn
        self.accounts: dict[tuple[str, str], str] = {}

    def as_user(self, role: str, jurisdiction: str, **headers: str) -> TestClient[Any]:
        """The client signed in as an account of `role` in `jurisdiction` (made on first use)."""
        key = (role, jurisdiction)
        if key not in self.accounts:
            self.accounts[key] = new_account(self.conn.url, role=role, jurisdiction=jurisdiction)
        self.client.cookies.clear()
        response = sign_in(self.client, self.accounts[key], **headers)
        assert response.status_code == 303, response.text
        return self.client


@pytest.fixture(scope="module")
def site(pg: ConnectionInfo, jwt_keys: tuple[str, str],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    database = fresh_database(pg)
    own = next(database)
    try:
        load_demo(own.ledger)
        private, public = jwt_keys
        settings = Settings(
            database_url=own.conn.url, data_dir=tmp_path_factory.mktemp("pages-data"),
            jwt_public_key=public, jwt_private_key=private,
        )
        with TestClient(create_app(settings, conn=own.conn)) as client:
            client.follow_redirects = False  # a sign-in answers 303; pages answer at once
            head = own.ledger.recorder.max_notification_id()
            assert head is not None
            assert wait_for_position(own.conn.url, head, timeout=60)
            yield Site(client, own.conn)
    finally:
        next(database, None)


def _province(site: Site, **headers: str) -> TestClient[Any]:
    return site.as_user("province", "350000", **headers)


def _case_ids(html: str) -> list[str]:
    return re.findall(r'href="/clusters/([0-9a-f-]{36})', html)


PAGES = ["/", "/board", "/funding", "/deadlines", "/audit", "/account"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_html_in_chinese_by_default(site: Site, path: str) -> None:
    response = _province(site).get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in response.text
    assert "中小企业特色产业集群管理台账" in response.text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_in_english_on_request(site: Site, path: str) -> None:
    client = _province(site)
    response = client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert response.status_code == 200, response.text
    assert '<html lang="en">' in response.text
    assert "SME Cluster Ledger" in response.text
    assert "中小企业特色产业集群管理台账" not in response.text


def test_the_language_switch_is_remembered(site: Site) -> None:
    client = _province(site)
    assert client.get("/lang/en?next=/board", follow_redirects=False).status_code == 303
    assert '<html lang="en">' in client.get("/board").text
    client.get("/lang/zh?next=/board")
    assert '<html lang="zh-CN">' in client.get("/board").text


def test_an_anonymous_page_request_goes_to_the_sign_in_form(site: Site) -> None:
    site.client.cookies.clear()
    response = site.client.get("/board?status=certified", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_the_overview_counts_clusters_by_status_with_links_to_the_board(site: Site) -> None:
    html = _province(site).get("/").text
    certified = re.search(r'href="/board\?status=certified"><span class="figure">(\d+)</span>',
                          html)
    assert certified is not None
    board = site.client.get("/board", params={"status": "certified"}).text
    assert len(set(_case_ids(board))) == int(certified.group(1))
    assert "万元" in html
    assert '<svg role="img"' in html  # the chart, with the same figures in a table
    assert "<caption>各状态集群数</caption>" in html


def test_the_board_names_regions_and_statuses_in_words(site: Site) -> None:
    html = _province(site).get("/board").text
    assert "福州市 · 鼓楼区" in html
    assert '<span class="code">350102</span>' in html
    assert "已认定" in html
    assert ">certified<" not in html


def test_the_board_filters_by_status_name_and_region(site: Site) -> None:
    client = _province(site)
    everything = set(_case_ids(client.get("/board").text))
    certified = set(_case_ids(client.get("/board", params={"status": "certified"}).text))
    assert certified
    assert certified < everything
    xiamen = client.get("/board", params={"region": "350200"}).text
    assert "厦门市" in xiamen
    assert "福州市 · 鼓楼区" not in xiamen.split("<tbody>")[1]
    named = client.get("/board", params={"name": "思明区"}).text.split("<tbody>")[1]
    assert len(set(_case_ids(named))) == 1
    assert "思明区" in named


def test_a_county_reader_sees_only_its_county(site: Site) -> None:
    html = site.as_user("county", "350582").get("/board").text
    rows = html.split("<tbody>")[1]
    assert _case_ids(rows)
    assert set(re.findall(r'<span class="code">(\d{6})</span>', rows)) == {"350582"}


def test_an_htmx_request_gets_the_table_alone(site: Site) -> None:
    response = _province(site).get(
        "/board", params={"status": "certified"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "<table" in response.text


def test_the_board_as_of_a_date_is_read_from_the_bitemporal_view(site: Site) -> None:
    client = _province(site)
    now = set(_case_ids(client.get("/board").text))
    then_html = client.get("/board", params={"as_of": "2023-06-01"}).text
    then = set(_case_ids(then_html.split("<tbody>")[1]))
    assert then < now
    assert "历史台账" in then_html


def test_a_board_as_of_a_date_downloads_the_rows_the_page_shows(site: Site) -> None:
    client = _province(site)
    params = {"as_of": "2025-06-01", "status": "certified"}
    shown = set(_case_ids(client.get("/board", params=params).text.split("<tbody>")[1]))
    response = client.get("/board", params={**params, "format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8").removeprefix(ZH_BOM))))
    assert len(rows) - 1 == len(shown) > 0
    assert {row[rows[0].index("状态")] for row in rows[1:]} == {"已认定"}


def test_a_board_download_has_the_same_rows_as_the_page_with_its_filters(site: Site) -> None:
    client = _province(site)
    shown = len(set(_case_ids(client.get("/board", params={"status": "certified"}).text)))
    response = client.get("/board", params={"status": "certified", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith(ZH_BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(ZH_BOM))))
    assert rows[0][0] == "集群名称"
    assert len(rows) - 1 == shown
    assert {row[rows[0].index("状态")] for row in rows[1:]} == {"已认定"}


def test_a_board_xlsx_has_a_chinese_sheet_the_header_block_and_its_filters(site: Site) -> None:
    client = _province(site)
    response = client.get("/board", params={"status": "certified", "format": "xlsx"})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet.title == "集群台账"
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "集群台账" in cells
    assert any("状态" in cell and "已认定" in cell for cell in cells)
    assert sheet.freeze_panes is not None


def test_the_funding_download_keeps_money_as_numbers(site: Site) -> None:
    response = _province(site).get("/funding", params={"format": "xlsx"})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    money = [c for row in sheet.iter_rows() for c in row
             if isinstance(c.value, int | float) and "¥" in (c.number_format or "")]
    assert money
    assert 1_000_000.0 in {c.value for c in money}


def test_the_funding_page_shows_totals_a_chart_and_its_vouchers(site: Site) -> None:
    html = _province(site).get("/funding").text
    assert "460.00万元" in html  # the demo's 4.6 million yuan, paid
    assert '<svg role="img"' in html
    assert "XMGX-2025-350203-1" in html
    drill = site.client.get("/funding", params={"region": "350203", "year": 2025}).text
    assert "XMGX-2025-350203-1" in drill
    assert "XMGX-2025-350205-1" not in drill


def test_the_funding_page_as_of_a_date_shows_what_was_paid_by_then(site: Site) -> None:
    client = _province(site)
    before = client.get("/funding", params={"as_of": "2024-12-31"}).text
    assert "历史资金台账" in before
    assert "XMGX-2025-350203-1" not in before  # paid in 2025
    after = client.get("/funding", params={"as_of": "2025-12-31", "region": "350203"}).text
    assert "XMGX-2025-350203-1" in after
    assert "as_of=2025-12-31" in after  # the summary's links keep the date
    response = client.get("/funding", params={"as_of": "2024-12-31", "format": "csv"})
    assert response.status_code == 200
    text = response.content.decode("utf-8").removeprefix(ZH_BOM)
    assert "XMGX-2025-350203-1" not in text
    workbook = client.get("/funding", params={"as_of": "2025-12-31", "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any("2025-12-31" in cell for cell in cells)  # the date among its filters
    assert any("XMGX-2025-350203-1" in cell for cell in cells)


def test_the_deadlines_page_as_of_a_date_counts_overdue_from_that_date(site: Site) -> None:
    client = _province(site)
    params = {"as_of": "2026-06-01", "within": "0"}
    html = client.get("/deadlines", params=params).text
    assert "历史期限" in html
    shown = len(re.findall(r'<tr class="is-overdue">', html))
    response = client.get("/deadlines", params={**params, "format": "csv"})
    rows = list(csv.reader(io.StringIO(
        response.content.decode("utf-8").removeprefix(ZH_BOM))))
    assert len(rows) - 1 == shown > 0
    overdue = rows[0].index("已逾期")
    due = rows[0].index("到期日")
    assert all(row[overdue] == "是" and row[due] < "2026-06-01" for row in rows[1:])
    early = client.get("/deadlines", params={"as_of": "2022-01-01", "within": "365"}).text
    assert "所选范围内没有待办期限" in early  # before any case was certified


def test_deadlines_are_grouped_by_the_department_that_acts(site: Site) -> None:
    html = _province(site).get("/deadlines", params={"within": 0}).text
    assert "福建省工业和信息化厅" in html
    assert "泉州市 · 晋江市 工信部门" in html
    assert "已逾期" in html
    csv_text = site.client.get(
        "/deadlines", params={"within": 0, "format": "csv"}
    ).content.decode()
    assert csv_text.splitlines()[0].removeprefix(ZH_BOM).startswith("责任部门")


def test_the_case_page_shows_dossier_funding_vouchers_and_the_timeline(site: Site) -> None:
    client = _province(site)
    [case_id] = set(_case_ids(client.get("/board", params={"name": "思明区"}).text))
    html = client.get(f"/clusters/{case_id}").text
    assert "厦门软件园运营管理有限公司" in html  # operating unit, from the dossier
    assert "工信部企业函〔2023〕283号" in html  # the certification's 文号 (MIIT's 2023 batch)
    assert "XMGX-2025-350203-1" in html  # a voucher
    assert "1,000,000.00" in html
    assert "核定支持资金并公示" in html  # an event in words
    then = client.get(f"/clusters/{case_id}", params={"as_of": "2025-03-01"}).text
    assert "2025年3月1日" in then
    assert 'class="later"' in then  # events not yet effective on that date


def test_a_case_timeline_downloads_with_every_event(site: Site) -> None:
    client = _province(site)
    [case_id] = set(_case_ids(client.get("/board", params={"name": "思明区"}).text))
    response = client.get(f"/clusters/{case_id}", params={"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode().removeprefix(ZH_BOM))))
    events = client.get(f"/clusters/{case_id}").text.count('<td class="num">')
    assert rows[0][:2] == ["版本", "事项"]
    assert len(rows) > 5
    assert events > 0


def test_a_case_outside_the_readers_jurisdiction_is_a_403_error_page(site: Site) -> None:
    client = _province(site)
    [xiamen_case] = set(_case_ids(client.get("/board", params={"name": "思明区"}).text))
    response = site.as_user("county", "350582").get(f"/clusters/{xiamen_case}")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "outside_jurisdiction" in response.text
    assert '<html lang="zh-CN">' in response.text


def test_an_unknown_case_is_a_404_error_page(site: Site) -> None:
    response = _province(site).get(f"/clusters/{UUID(int=7)}")
    assert response.status_code == 404
    assert "cluster_not_found" in response.text


def test_a_bad_filter_value_is_a_400_error_page_not_a_500(site: Site) -> None:
    client = _province(site)
    for params in ({"as_of": "0001-01-01"}, {"name": "a\x00b"}, {"format": "pdf"},
                   {"cursor": "garbage"}, {"within": "-1"}):
        response = client.get("/board" if "within" not in params else "/deadlines",
                              params=params)
        assert 400 <= response.status_code < 500, (params, response.status_code)
        assert response.headers["content-type"].startswith("text/html"), params


def test_the_audit_page_shows_the_head_and_the_key_and_offers_the_export_to_log_readers(
    site: Site,
) -> None:
    html = site.as_user("auditor", "350000").get("/audit").text
    assert "sha256:" in html
    assert 'href="/audit/export.ndjson"' in html
    export = site.client.get("/audit/export.ndjson")
    assert export.status_code == 200
    assert export.text.splitlines()[0].startswith('{"kind":"header"')
    county = site.as_user("county", "350582")
    assert 'href="/audit/export.ndjson"' not in county.get("/audit").text
    assert county.get("/audit/export.ndjson").status_code == 403


def test_a_form_submitted_with_empty_fields_reads_them_as_not_given(site: Site) -> None:
    """What a browser sends for the board's form when only the status is chosen."""
    client = _province(site)
    response = client.get(
        "/board?name=&industry=&programme=&region=&status=certified&sort=name&as_of=&known_at="
    )
    assert response.status_code == 200, response.text
    assert set(_case_ids(response.text)) == set(
        _case_ids(client.get("/board", params={"status": "certified"}).text)
    )


def test_a_case_as_of_a_date_before_its_application_says_so(site: Site) -> None:
    client = _province(site)
    [case_id] = set(_case_ids(client.get("/board", params={"name": "思明区"}).text))
    response = client.get(f"/clusters/{case_id}", params={"as_of": "2020-01-01"})
    assert response.status_code == 404
    assert "该集群在 2020年1月1日 尚未申报" in response.text
