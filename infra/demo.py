"""Demo data: a realistic set of cluster cases, built through the same commands as the API.

Clusters across Fujian's cities (incl. Pingtan) under the FJ programme and across Xiamen's six
districts under XM, in every state of the lifecycle, dated 2023–2026. Names are real clusters
from the public lists in DOMAIN.md; the figures are invented but plausible.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from domain.actors import Actor, EventMeta, Role
from domain.commands import Command
from domain.errors import InvalidInput
from domain.facts import (
    AnnualFigures,
    AppealOutcome,
    Dossier,
    Ground,
    PlanLine,
    PlanTarget,
    ScoreStage,
)
from domain.indicators import Indicators
from domain.permissions import RegionLookup
from domain.regions import Regions
from domain.rulebook import Programme
from infra.accounts import AccountExists, AccountStore, check_new_password
from infra.application import ClusterLedger

PROVINCE = "350000"
XIAMEN = "350200"


class DemoCase(msgspec.Struct, frozen=True):
    name: str
    county: str
    industry: str
    stage: str
    programme: Programme = Programme.FJ
    operating_unit: str | None = None
    output_billion: int = 45  # hundred-million yuan figures are scaled below
    year: int = 2023  # year of application


class NationalBatch(msgspec.Struct, frozen=True):
    """A cluster of one of MIIT's batches, certified before Xiamen's rules (2024-11-25).

    The certification documents and their dates are MIIT's; the application and recommendation
    dates are illustrative, before the batch's deadline (2022: 工信厅企业函〔2022〕236号, by
    2022-10-31; 2023: 工信厅企业函〔2023〕44号; 2024: 工信厅企业函〔2024〕122号)."""

    applied: date
    recommended: date
    certified: date
    document: str


NATIONAL_BATCHES = {
    # 2022 batch, published 2023-01-11
    "厦门市集美区工业机器人产业集群": NationalBatch(
        applied=date(2022, 10, 10), recommended=date(2022, 10, 28),
        certified=date(2023, 1, 11), document="工信部企业函〔2023〕3号",
    ),
    # 2023 batch, dated 2023-10-17
    "厦门市思明区智慧城市智能系统产业集群": NationalBatch(
        applied=date(2023, 3, 20), recommended=date(2023, 4, 10),
        certified=date(2023, 10, 17), document="工信部企业函〔2023〕283号",
    ),
    # 2024 batch, dated 2024-09-19; which Xiamen cluster it named is not in the seeds: this
    # demo cluster stands in for it
    "厦门市海沧区集成电路设计产业集群": NationalBatch(
        applied=date(2024, 3, 15), recommended=date(2024, 4, 20),
        certified=date(2024, 9, 19), document="工信部企业函〔2024〕267号",
    ),
}
FIRST_YEAR_ASSESSED = 2024  # XM-2024: Xiamen's assessment starts with the year 2024


FJ_CASES = (
    DemoCase("福州市马尾区用户侧新型储能产业集群", "350105", "新型储能", "renewed", year=2023),
    DemoCase(
        "福州市长乐区纺织新材料产业集群", "350112", "纺织新材料", "reported", output_billion=120
    ),
    DemoCase(
        "福州市鼓楼区人工智能应用软件产业集群",
        "350102",
        "人工智能应用软件",
        "under_notice",
        year=2026,
    ),
    DemoCase(
        "平潭综合实验区海洋渔业装备产业集群", "350128", "海洋渔业装备", "recommended", year=2026
    ),
    DemoCase(
        "晋江市运动鞋原辅材料产业集群", "350582", "运动鞋原辅材料", "reported", output_billion=180
    ),
    DemoCase(
        "南安市水暖厨卫产业集群", "350583", "水暖厨卫", "appeal_overturned", output_billion=90
    ),
    DemoCase("德化县白瓷产业集群", "350526", "白瓷", "expired", output_billion=40),
    DemoCase("泉州市鲤城区鞋服新材料产业集群", "350502", "鞋服新材料", "certified", year=2025),
    DemoCase("泉州市洛江区卫生护理用品产业集群", "350504", "卫生护理用品", "applied", year=2026),
    DemoCase("漳州市龙文区石英钟表产业集群", "350603", "石英钟表", "revoked", output_billion=35),
    DemoCase(
        "漳州市芗城区智能数控电子设备产业集群", "350602", "智能数控电子设备", "certified", year=2025
    ),
    DemoCase("龙岩市上杭县金铜精深加工产业集群", "350823", "金铜精深加工", "appealed", year=2023),
    DemoCase(
        "龙岩市新罗区应急抢险救援装备产业集群", "350802", "应急抢险救援装备", "rejected", year=2025
    ),
    DemoCase("武平县显示模组及材料制造产业集群", "350824", "显示模组及材料", "reported", year=2023),
    DemoCase(
        "三明市三元区工程装备零部件产业集群",
        "350404",
        "工程装备零部件",
        "not_recommended",
        output_billion=22,
        year=2025,
    ),
    DemoCase("莆田市荔城区黄金珠宝产业集群", "350304", "黄金珠宝", "certified", year=2025),
    DemoCase("南平市光泽县白羽肉鸡产业集群", "350723", "白羽肉鸡", "applied", year=2026),
    DemoCase("邵武市氟材料产业集群", "350781", "氟新材料", "reported", year=2023),
    DemoCase(
        "宁德市蕉城区锂电新能源配套产业集群", "350902", "锂电新能源配套", "certified", year=2025
    ),
    DemoCase("厦门市翔安区智能输配电产业集群", "350213", "智能输配电", "under_notice", year=2026),
)

XM_CASES = (
    DemoCase(
        "厦门市思明区智慧城市智能系统产业集群",
        "350203",
        "智慧城市智能系统",
        "paid_year2",
        Programme.XM,
        "厦门软件园运营管理有限公司",
        140,
    ),
    DemoCase(
        "厦门市集美区工业机器人产业集群",
        "350211",
        "工业机器人",
        "paid_year1",
        Programme.XM,
        "集美区工业机器人产业集群促进中心",
        60,
    ),
    DemoCase(
        "厦门市海沧区集成电路设计产业集群",
        "350205",
        "集成电路设计",
        "scored_low",
        Programme.XM,
        "海沧区集成电路产业服务中心",
        55,
    ),
    DemoCase(
        "厦门市湖里区航空维修产业集群",
        "350206",
        "航空维修",
        "audited",
        Programme.XM,
        "湖里区航空产业运营服务有限公司",
        80,
    ),
    DemoCase(
        "厦门市同安区食品加工产业集群",
        "350212",
        "食品加工",
        "recommended_xm",
        Programme.XM,
        "同安区食品产业促进会",
        50,
    ),
    DemoCase(
        "厦门市翔安区新型显示产业集群",
        "350213",
        "新型显示",
        "applied_xm",
        Programme.XM,
        "翔安区新型显示产业运营有限公司",
        95,
    ),
)


def plausible_indicators(
    output_by_year: tuple[int, int, int], *, leading_share_pct: Decimal = Decimal("76.0")
) -> Indicators:
    """Certification figures of a typical strong cluster around the given output series (yuan,
    oldest first); shared with the benchmark generator."""
    return Indicators(
        area_km2=Decimal(45),
        output_value_yuan=output_by_year,
        sme_output_share_pct=Decimal("74.5"),
        leading_industry_share_pct=leading_share_pct,
        output_growth_avg_pct=Decimal("11.2"),
        champion_or_little_giant_count=2,
        specialised_innovative_hightech_count=18,
        sme_rd_growth_avg_pct=Decimal("8.4"),
        invention_patent_growth_avg_pct=Decimal("12.0"),
        invention_patents_per_10k_people=Decimal("16.5"),
        industrial_internet_adoption_pct=Decimal("22.0"),
        co2_intensity_falling=True,
        energy_water_better_than_benchmark=True,
        negative_list_clear=True,
    )


def _indicators(case: DemoCase) -> Indicators:
    if case.stage == "not_recommended":  # falls short: output and leading-industry share
        return plausible_indicators(
            (2_100_000_000, 2_200_000_000, 2_350_000_000), leading_share_pct=Decimal("58.0")
        )
    base = case.output_billion * 100_000_000
    return plausible_indicators((base - 2 * 10**8, base - 10**8, base))


class DemoDriver:
    """Drives one case through the commands with plausible people and dates."""

    def __init__(self, ledger: ClusterLedger, regions: Regions, case: DemoCase) -> None:
        self.ledger = ledger
        self.case = case
        self.city = regions.city_of(case.county).code
        self.version = 0
        self.cluster_id: UUID | None = None

    def meta(
        self,
        role: Role,
        on: date,
        *,
        user: str | None = None,
        doc: str | None = None,
        comment: str = "",
    ) -> EventMeta:
        jurisdiction = {
            Role.COUNTY: self.case.county,
            Role.OPERATING_UNIT: self.case.county,
            Role.CITY: self.city,
            Role.MIIT_RECORDER: XIAMEN,
            Role.PROVINCE: PROVINCE,
        }[role]
        return EventMeta(
            actor=Actor(
                user_id=user or f"{role}-{jurisdiction}",
                role=role,
                organisation=f"{jurisdiction} {role}",
                jurisdiction=jurisdiction,
            ),
            effective_date=on,
            document_number=doc,
            comment=comment,
        )

    def step(self, command: Command, meta: EventMeta, **facts: Any) -> None:
        assert self.cluster_id is not None  # noqa: S101
        self.ledger.issue(command, self.cluster_id, meta, self.version, **facts)
        self.version = self.ledger.get_cluster(self.cluster_id).version

    # ---- shared stages ----------------------------------------------------------------------

    def apply(self, on: date) -> None:
        c = self.case
        dossier = Dossier(
            name=c.name,
            programme=c.programme,
            county_code=c.county,
            leading_industry=c.industry,
            operating_unit=c.operating_unit,
            indicators=_indicators(c),
            plan_targets=(
                PlanTarget(
                    indicator="total_output_100m_yuan",
                    baseline=Decimal(c.output_billion),
                    target=Decimal(c.output_billion * 13 // 10),
                    by_year=on.year + 3,
                ),
            ),
            negative_list_clear=True,
        )
        result = self.ledger.issue(
            Command.APPLY, None, self.meta(Role.COUNTY, on), None, dossier=dossier
        )
        self.cluster_id, self.version = result.cluster_id, result.version

    def recommend(self, on: date) -> None:
        self.step(Command.RECOMMEND, self.meta(Role.CITY, on), onsite_verified=True)

    def certify_fj(self, applied: date) -> date:
        y = applied.year
        self.recommend(date(y, applied.month + 1, 10))
        self.step(
            Command.SHORTLIST,
            self.meta(Role.PROVINCE, date(y, applied.month + 2, 8), user="prov-reviewer"),
        )
        certified = date(y, applied.month + 2, 28)
        self.step(
            Command.CERTIFY,
            self.meta(
                Role.PROVINCE,
                certified,
                user="prov-director",
                doc=f"闽工信函中小〔{y}〕{applied.month * 7 + 3}号",
            ),
        )
        return certified

    def report(self, year: int, on: date) -> None:
        role = Role.COUNTY
        self.step(
            Command.FILE_ANNUAL_REPORT,
            self.meta(role, on),
            year=year,
            figures=AnnualFigures(
                total_output_yuan=self.case.output_billion * 10**8,
                quality_sme_count=20,
                valid_invention_patents=310,
            ),
        )

    def revoke(self, on: date, received: date, ground: Ground) -> None:
        self.step(
            Command.REVOKE,
            self.meta(
                Role.PROVINCE,
                on,
                user="prov-director",
                doc=f"闽工信中小〔{on.year}〕{on.month}{on.day}号",
                comment="经核查，集群未及时报送年度培育情况信息表",
            ),
            ground=ground,
            received_on=received,
        )

    # ---- XM ----------------------------------------------------------------------------------

    def certify_xm(self) -> None:
        self.recommend(date(2024, 12, 16))
        self.step(
            Command.CERTIFY,
            self.meta(Role.MIIT_RECORDER, date(2025, 1, 20), doc="工信部企业函〔2025〕12号"),
        )

    def fund(self, funding_year: int, amount_fen: int, start: date) -> None:
        half = amount_fen // 2
        lines = (
            PlanLine(
                category="public_service_platform", amount_fen=half, description="公共服务平台运维"
            ),
            PlanLine(
                category="brand_building", amount_fen=amount_fen - half, description="区域品牌推广"
            ),
        )
        y, m = start.year, start.month
        self.step(
            Command.SUBMIT_FUND_USE_PLAN,
            self.meta(Role.OPERATING_UNIT, start),
            funding_year=funding_year,
            lines=lines,
        )
        self.step(
            Command.REVIEW_FUND_USE_PLAN,
            self.meta(Role.COUNTY, date(y, m, 20)),
            funding_year=funding_year,
            passed=True,
        )
        self.step(
            Command.APPROVE_SUBSIDY,
            self.meta(Role.CITY, date(y, m + 1, 3), user="city-fund-approver"),
            funding_year=funding_year,
            amount_fen=amount_fen,
        )
        self.step(
            Command.PAY_SUBSIDY,
            self.meta(Role.CITY, date(y, m + 1, 25), user="city-treasurer"),
            funding_year=funding_year,
            amount_fen=amount_fen,
            voucher=f"XMGX-{y}-{self.case.county}-{funding_year}",
        )

    def score(self, year: int, score: Decimal) -> None:
        self.step(
            Command.SCORE,
            self.meta(Role.COUNTY, date(year + 1, 2, 12)),
            year=year,
            stage=ScoreStage.DISTRICT_INITIAL,
            score=score,
        )
        self.step(
            Command.SCORE,
            self.meta(Role.CITY, date(year + 1, 3, 16), user="city-assessor"),
            year=year,
            stage=ScoreStage.CITY_FINAL,
            score=score,
        )


def _run_xm(driver: DemoDriver) -> None:
    """A national cluster managed by Xiamen, to its case's demo stage."""
    c, d = driver.case, driver
    batch = NATIONAL_BATCHES.get(c.name)
    if batch is not None:  # certified by MIIT before Xiamen's rules, funded under them
        d.apply(batch.applied)
        d.recommend(batch.recommended)
        d.step(Command.CERTIFY, d.meta(Role.MIIT_RECORDER, batch.certified, doc=batch.document))
        first_year, first_plan = FIRST_YEAR_ASSESSED, date(2025, 1, 6)
    else:
        d.apply(date(2024, 12, 2))
        if c.stage == "applied_xm":
            return
        if c.stage == "recommended_xm":
            d.recommend(date(2024, 12, 16))
            return
        d.certify_xm()
        first_year, first_plan = 2025, date(2025, 2, 10)
    d.fund(1, 100_000_000, first_plan)
    if c.stage == "paid_year1":
        return
    d.report(first_year, date(first_year + 1, 4, 10))
    if c.stage == "scored_low":
        d.score(first_year, Decimal("57.50"))
        return
    d.score(first_year, Decimal("83.50") if c.stage == "paid_year2" else Decimal("74.00"))
    if c.stage == "audited":
        d.step(
            Command.RECORD_AUDIT_FINDING,
            d.meta(Role.CITY, date(2026, 6, 18)),
            summary="品牌建设费用中列支招待费 3.2 万元，不符合专款专用",
            amount_questioned_fen=3_200_000,
        )
        d.step(Command.CONFIRM_RECTIFICATION, d.meta(Role.COUNTY, date(2026, 8, 5)), number=1)
        d.step(Command.CONFIRM_RECTIFICATION, d.meta(Role.CITY, date(2026, 8, 19)), number=1)
        return
    d.fund(2, 60_000_000, date(first_year + 1, 4, 13))


def _run(driver: DemoDriver) -> None:  # noqa: PLR0911, PLR0912 - one script per stage
    c, d = driver.case, driver
    if c.programme == Programme.XM:
        _run_xm(driver)
        return

    applied = date(c.year, 3, 2) if c.year < 2026 else date(2026, 9, 7)
    d.apply(applied)
    if c.stage == "applied":
        return
    if c.stage == "not_recommended":
        d.step(
            Command.DECLINE,
            d.meta(
                Role.CITY, date(c.year, 4, 8), comment="产值与主导产业占比未达认定标准，暂不推荐"
            ),
        )
        return
    if c.stage == "recommended":
        d.recommend(date(2026, 10, 12))
        return
    if c.stage == "under_notice":
        d.recommend(date(2026, 10, 12))
        d.step(Command.SHORTLIST, d.meta(Role.PROVINCE, date(2026, 11, 18), user="prov-reviewer"))
        return
    if c.stage == "rejected":
        d.recommend(date(c.year, 4, 10))
        d.step(
            Command.REJECT,
            d.meta(
                Role.PROVINCE,
                date(c.year, 5, 20),
                user="prov-director",
                comment="复审实地抽查：公共服务体系不完善",
            ),
        )
        return
    certified = d.certify_fj(applied)
    if c.stage == "certified":
        return
    if c.stage == "expired":
        return  # certified 2023, validity lapsed in 2026 without renewal
    d.report(certified.year, date(certified.year + 1, 3, 18))
    if c.stage in {"reported", "renewed"}:
        d.report(certified.year + 1, date(certified.year + 2, 3, 25))
    if c.stage == "renewed":
        d.report(certified.year + 2, date(certified.year + 3, 3, 20))
        d.step(Command.REQUEST_RENEWAL, d.meta(Role.COUNTY, date(2026, 4, 20)))
        d.step(
            Command.DECIDE_RENEWAL,
            d.meta(
                Role.PROVINCE,
                date(2026, 6, 15),
                user="prov-director",
                doc="闽工信中小〔2026〕61号",
                comment="三年发展规划目标基本完成",
            ),
            passed=True,
            plan_targets_met=True,
        )
        return
    if c.stage == "reported":
        return
    d.revoke(date(2025, 9, 24), date(2025, 9, 26), Ground.ANNUAL_REPORT_MISSING)
    if c.stage == "revoked":
        return
    d.step(
        Command.APPEAL,
        d.meta(
            Role.COUNTY,
            date(2025, 10, 15),
            comment="年度信息表已于规定期限内通过市工信局报送，附回执",
        ),
    )
    if c.stage == "appealed":
        return
    d.step(
        Command.DECIDE_APPEAL,
        d.meta(
            Role.PROVINCE,
            date(2025, 11, 14),
            user="prov-appeals",
            doc="闽工信中小〔2025〕140号",
            comment="经复核，年度信息表已按时报送，撤销决定予以撤回",
        ),
        outcome=AppealOutcome.OVERTURNED,
    )


def load_demo(ledger: ClusterLedger) -> int:
    """Load the demo set into an empty store; return how many clusters were created (0 if the
    store already holds events)."""
    if ledger.recorder.max_notification_id() is not None:
        return 0
    regions = ledger.services.regions
    count = 0
    for case in (*FJ_CASES, *XM_CASES):
        _run(DemoDriver(ledger, regions, case))
        count += 1
    return count


# ---- sign-ins for the demo users ---------------------------------------------------------------

DEMO_LOGINS_FILE = "demo-logins.txt"  # under the data directory (var/, git-ignored)
_LOGINS_HEADER = (
    "# Demo sign-ins for the pages (/login), made with the demo data: one random password each.\n"
    "# username\tpassword\trole\tjurisdiction\torganisation\n"
)


class DemoLogin(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    password: str
    role: str
    jurisdiction: str
    organisation: str


def _random_password(username: str) -> str:
    while True:  # a draw the password rule refuses (it contains the username...) is drawn again
        candidate = secrets.token_urlsafe(12)  # 16 characters, 96 random bits
        try:
            return check_new_password(candidate, username)
        except InvalidInput:
            continue


def create_demo_accounts(
    conninfo: str,
    regions: RegionLookup,
    users: Iterable[tuple[str, Role, str, str]],
    path: Path,
) -> list[DemoLogin]:
    """An account with a random password for each demo user, written to `path` (mode 0600).
    A user that exists already (made by hand) is left as it is and not listed."""
    store = AccountStore(conninfo, regions)
    logins: list[DemoLogin] = []
    for username, role, jurisdiction, organisation in users:
        password = _random_password(username)
        try:
            store.add(
                username, role=role, jurisdiction=jurisdiction, organisation=organisation,
                password=password,
            )
        except AccountExists:
            continue
        logins.append(
            DemoLogin(
                username=username, password=password, role=str(role),
                jurisdiction=jurisdiction, organisation=organisation,
            )
        )
    if logins:
        write_demo_logins(path, logins)
    return logins


def write_demo_logins(path: Path, logins: Iterable[DemoLogin]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there before with a wider mode
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(_LOGINS_HEADER)
        for login in logins:
            fields = (
                login.username, login.password, login.role, login.jurisdiction,
                login.organisation,
            )
            out.write("\t".join(fields) + "\n")


def read_demo_logins(path: Path) -> list[DemoLogin]:
    """The logins `create_demo_accounts` wrote, or none when there is no such file."""
    if not path.exists():
        return []
    logins = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) != 5:
            continue
        username, password, role, jurisdiction, organisation = fields
        logins.append(
            DemoLogin(
                username=username, password=password, role=role, jurisdiction=jurisdiction,
                organisation=organisation,
            )
        )
    return logins
