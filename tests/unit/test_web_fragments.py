"""HTML written in Python (api/web/fragments.py, the board's rows) reads exactly as the
templates wrote it: markupsafe's escaping, the same cells for the same rows."""

# The oracle below is the template's row as it was, one line per cell as in the template file.
# ruff: noqa: E501

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import markupsafe
import pytest
from jinja2 import Environment

from api import i18n
from api.i18n import install
from api.scope import RegionOption
from api.web.board import board_rows
from api.web.fragments import escape, option_tags, time_tag
from infra.rules import load_regions
from projections.queries import ClusterItem

ODD_TEXTS = [
    "", "思明区产业集群", "<script>alert(1)</script>", "a & b", "\"quoted\" 'single'",
    "&amp; already", "<<>>&&\"\"''", "tab\tand\nnewline", "\u00a0non-breaking",
]

# The board's row as board_table.html wrote it before rows were written in Python: the oracle.
TEMPLATE_ROW = """\
{% macro day(d) %}{% if d %}<time datetime="{{ d.isoformat() }}">{{ format_date(d) }}</time>{% else %}—{% endif %}{% endmacro %}
{% for item in items %}
    <tr>
      <th scope="row"><a href="/clusters/{{ item.id }}{% if as_of %}?as_of={{ as_of.isoformat() }}{% endif %}">{{ item.name }}</a></th>
      <td>{{ t("programme." ~ item.programme) }}</td>
      <td>{{ region_label(item.county_code) }} <span class="code">{{ item.county_code }}</span></td>
      <td>{{ item.leading_industry }}</td>
      <td><span class="status status-{{ item.status }}">{{ t("status." ~ item.status) }}</span></td>
      <td>{{ day(item.certified_on) }}</td>
      <td>{{ day(item.valid_until) }}</td>
      <td class="num">{{ item.last_report_year or "—" }}</td>
      <td class="num">{{ item.last_final_score if item.last_final_score is not none else "—" }}</td>
      <td>{% if item.next_due_kind %}{{ t("deadline_kind." ~ item.next_due_kind) }} {{ day(item.next_due_on) }}{% if item.next_due_overdue %} <strong class="overdue">{{ t("due.overdue") }}</strong>{% endif %}{% else %}—{% endif %}</td>
    </tr>
{% endfor %}"""


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_escape_writes_what_markupsafe_writes(text: str) -> None:
    assert escape(text) == str(markupsafe.escape(text))


@pytest.mark.parametrize("value", [2029, Decimal("87.50"), UUID(int=7)])
def test_escape_writes_other_values_as_their_text(value: object) -> None:
    assert escape(value) == str(markupsafe.escape(value))


def test_a_date_is_a_time_element_in_the_readers_words() -> None:
    day = date(2026, 3, 30)
    assert time_tag(day, "zh") == '<time datetime="2026-03-30">2026年3月30日</time>'
    assert time_tag(day, "en") == '<time datetime="2026-03-30">30 Mar 2026</time>'
    assert time_tag(None, "zh") == "—"


def test_options_select_the_current_value_and_escape_labels() -> None:
    html = option_tags(
        [RegionOption("350200", "厦门市"), RegionOption("350203", "<b>思明区</b>")], "350203"
    )
    assert isinstance(html, markupsafe.Markup)
    assert html == (
        '<option value="350200">厦门市</option>'
        '<option value="350203" selected>&lt;b&gt;思明区&lt;/b&gt;</option>'
    )


def _item(n: int, **changes: Any) -> ClusterItem:
    values: dict[str, Any] = {
        "id": UUID(int=n), "name": f"思明区产业集群 {n}", "programme": "XM",
        "province_code": "350000", "city_code": "350200", "county_code": "350203",
        "leading_industry": "新材料", "operating_unit": None, "status": "certified",
        "recorded_status": "certified", "applied_on": date(2024, 1, 2),
        "certified_on": date(2024, 6, 3), "valid_until": date(2027, 6, 3),
        "renewal_pending": False, "last_report_year": 2025,
        "last_final_score": Decimal("87.50"), "next_due_on": date(2026, 3, 31),
        "next_due_kind": "annual_report", "next_due_overdue": False, "version": 9,
        "position": 100 + n,
    }
    values.update(changes)
    return ClusterItem(**values)


ITEMS = [
    _item(1),
    _item(2, name=ODD_TEXTS[2] + ODD_TEXTS[4], leading_industry="a & b <i>", programme="FJ",
          status="expired", next_due_overdue=True, last_final_score=None),
    _item(3, certified_on=None, valid_until=None, last_report_year=None, next_due_kind=None,
          next_due_on=None, status="applied", county_code="350128"),
    _item(4, county_code="999999", status="not_a_status", programme="ZZ"),  # unknown: as is
    _item(5, next_due_on=None),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("as_of", [None, date(2025, 12, 31)])
def test_board_rows_read_as_the_template_wrote_them(lang: i18n.Locale, as_of: date | None) -> None:
    regions = load_regions()
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    install(env, regions=regions)
    env.globals["t"] = lambda key, **params: i18n.label(lang, *key.split(".", 1)) if not params \
        else i18n.t(lang, key, **params)  # the unknown values of ITEMS[3] shown as they are
    expected = env.from_string(TEMPLATE_ROW).render(items=ITEMS, as_of=as_of, lang=lang)
    page = SimpleNamespace(
        lang=lang, runtime=SimpleNamespace(ledger=SimpleNamespace(services=SimpleNamespace(
            regions=regions))),
        t=lambda key, **params: i18n.t(lang, key, **params),
    )
    written = board_rows(page, ITEMS, as_of)  # type: ignore[arg-type]
    assert isinstance(written, markupsafe.Markup)
    assert written + "\n" == expected
    assert "&lt;script&gt;" in written
    assert "<script>" not in written
