"""Templates speak the page's language through the filters and globals `install` registers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from jinja2 import Environment, StrictUndefined

from api.i18n import install
from infra.rules import load_regions

TEMPLATE = (
    "{{ t('status.certified') }}|{{ status | label('status') }}|{{ label('role', role) }}|"
    "{{ day | date }}|{{ recorded | datetime }}|{{ fen | yuan }}|{{ fen | wan }}|"
    "{{ county | region }}|{{ format_date(day) }}"
)
VALUES = {
    "status": "under_notice", "role": "operating_unit", "day": date(2026, 3, 30),
    "recorded": datetime(2026, 3, 30, 1, 2, 3, tzinfo=UTC), "fen": 123_456_789,
    "county": "350102",
}


@pytest.fixture
def env() -> Environment:
    environment = Environment(autoescape=True, undefined=StrictUndefined)
    install(environment, regions=load_regions())
    return environment


def test_a_chinese_page(env: Environment) -> None:
    assert env.from_string(TEMPLATE).render(lang="zh", **VALUES).split("|") == [
        "已认定", "公示中", "集群运营单位", "2026年3月30日", "2026年3月30日 09:02:03",
        "1,234,567.89", "123.46万元", "福州市 · 鼓楼区", "2026年3月30日",
    ]


def test_an_english_page(env: Environment) -> None:
    assert env.from_string(TEMPLATE).render(lang="en", **VALUES).split("|") == [
        "Certified", "Under public notice", "Operating unit", "30 Mar 2026",
        "30 Mar 2026 09:02:03", "1,234,567.89", "CNY 1.23 million", "福州市 · 鼓楼区",
        "30 Mar 2026",
    ]


def test_a_page_without_lang_is_chinese(env: Environment) -> None:
    assert env.from_string("{{ t('status.revoked') }}").render() == "已撤销认定"


def test_empty_values_are_empty_cells(env: Environment) -> None:
    template = "[{{ none | date }}|{{ none | datetime }}|{{ none | yuan }}|{{ none | wan }}|" \
        "{{ none | region }}|{{ none | label('status') }}]"
    assert env.from_string(template).render(none=None) == "[|||||]"


def test_t_with_parameters_and_autoescape(env: Environment) -> None:
    rendered = env.from_string("{{ t('problem.unknown_detail', code=code) }}").render(
        lang="zh", code="<b>x</b>"
    )
    assert rendered == "错误代码：&lt;b&gt;x&lt;/b&gt;。"


def test_without_a_region_table_the_code_is_shown() -> None:
    environment = Environment(autoescape=True)
    install(environment)
    assert environment.from_string("{{ '350102' | region }}").render() == "350102"
