"""Synthetic cluster histories for the benchmarks, driven through the real `ClusterLedger` verbs.

Each case is one FJ (provincial) or XM (national, managed by Xiamen) cluster whose whole life is
played through the application's commands, with the roles, jurisdictions, document numbers,
reasons and dates the rules require: application, city review, province review with public notice
and objections (FJ), certification, then year after year annual reports, XM assessments (district
initial score, city final score, occasional corrections), the three-year XM subsidy with its
fund-use plans and notices, special audits and rectifications, major changes, renewal reviews
every three years, revocations, appeals. Some cases end early (not recommended, rejected, revoked,
renewal failed), as real ones do.

~100 events per cluster (the issue's figure) means decades of history at the documents'
pace (one annual report a year, two scores a year for XM...): each case runs from its application
(2023–2026) until `horizon_year`, with effective dates in the future. The volume and shape of
the log is what the benchmarks need; the dates are synthetic.

A seeded `random.Random` per case makes a case's history independent of how cases are
distributed over worker processes.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.actors import Actor, EventMeta, Role
from domain.case import Status
from domain.commands import Command
from domain.facts import (
    AnnualFigures,
    AppealOutcome,
    ChangeKind,
    Dossier,
    Ground,
    PlanLine,
    PlanTarget,
    ScoreStage,
)
from domain.indicators import Indicators
from domain.regions import Regions
from domain.rulebook import Programme
from infra.application import ClusterLedger
from infra.demo import plausible_indicators

PROVINCE = "350000"
XIAMEN = "350200"
XIAMEN_DISTRICTS = ("350203", "350205", "350206", "350211", "350212", "350213")
INDUSTRIES = (
    "新型储能", "纺织新材料", "人工智能应用软件", "海洋渔业装备", "运动鞋原辅材料", "水暖厨卫",
    "白瓷", "鞋服新材料", "卫生护理用品", "石英钟表", "智能数控电子设备", "金铜精深加工",
    "应急抢险救援装备", "显示模组及材料", "工程装备零部件", "黄金珠宝", "白羽肉鸡", "氟新材料",
    "锂电新能源配套", "智能输配电", "智慧城市智能系统", "工业机器人", "集成电路设计", "航空维修",
    "食品加工", "新型显示", "茶叶精深加工", "竹木家居", "光伏组件", "医疗器械",
)
CATEGORIES = (
    "policy_publicity_and_training", "industrial_exchange_and_matchmaking",
    "industry_monitoring_and_services", "brand_building", "public_service_platform",
    "operating_unit_management",
)
XM_SHARE = 0.3  # share of XM cases in the mix


def indicators(output_yuan: int) -> Indicators:
    """Figures that meet FJ 2022 and the national standards, around `output_yuan` a year."""
    series = (output_yuan * 85 // 100, output_yuan * 92 // 100, output_yuan)
    return plausible_indicators(series, leading_share_pct=Decimal("76.0"))


class CaseDriver:
    """Plays one case through the ledger's verbs, tracking the version it acts on."""

    def __init__(self, ledger: ClusterLedger, regions: Regions, rng: random.Random,
                 index: int, horizon_year: int, extra_changes_per_year: float = 0.0,
                 *, mortal: bool = True) -> None:
        self.ledger = ledger
        self.rng = rng
        self.index = index
        self.horizon_year = horizon_year
        self.extra_changes_per_year = extra_changes_per_year
        self.mortal = mortal  # False: never revoked, every renewal passes
        self.programme = Programme.XM if rng.random() < XM_SHARE else Programme.FJ
        counties = [r.code for r in regions if r.level == "county"]
        self.county = (
            rng.choice(XIAMEN_DISTRICTS) if self.programme == Programme.XM else rng.choice(counties)
        )
        self.county_name = regions.county(self.county).name
        self.city = regions.city_of(self.county).code
        self.industry = rng.choice(INDUSTRIES)
        self.output = rng.randrange(50, 200) * 100_000_000
        self.cluster_id: UUID | None = None
        self.version = 0
        self.events = 0

    # ---- plumbing ----------------------------------------------------------------------------

    def meta(self, role: Role, on: date, *, user: str | None = None, doc: str | None = None,
             comment: str = "") -> EventMeta:
        jurisdiction = {
            Role.COUNTY: self.county, Role.OPERATING_UNIT: self.county, Role.CITY: self.city,
            Role.MIIT_RECORDER: XIAMEN, Role.PROVINCE: PROVINCE,
        }[role]
        return EventMeta(
            actor=Actor(user_id=user or f"{role}-{jurisdiction}", role=role,
                        organisation=f"{jurisdiction} {role}", jurisdiction=jurisdiction),
            effective_date=on, document_number=doc, comment=comment,
        )

    def step(self, command: Command, meta: EventMeta, **facts: Any) -> None:
        assert self.cluster_id is not None  # noqa: S101
        result = self.ledger.issue(command, self.cluster_id, meta, self.version, **facts)
        self.events += result.version - self.version
        self.version = result.version

    def day(self, year: int, month: int, spread: int = 20) -> date:
        return date(year, month, 1) + timedelta(days=self.rng.randrange(spread))

    def doc(self, prefix: str, on: date) -> str:
        return f"{prefix}〔{on.year}〕{self.rng.randrange(1, 400)}号"

    @property
    def status(self) -> Status:
        assert self.cluster_id is not None  # noqa: S101
        return self.ledger.get_cluster(self.cluster_id).case.status

    # ---- shared stages -----------------------------------------------------------------------

    def apply(self, on: date) -> None:
        xm = self.programme == Programme.XM
        dossier = Dossier(
            name=f"{self.county_name}{self.industry}产业集群（{self.index}）",
            programme=self.programme, county_code=self.county, leading_industry=self.industry,
            operating_unit=f"{self.county_name}{self.industry}集群运营管理有限公司" if xm else None,
            indicators=indicators(self.output),
            plan_targets=(
                PlanTarget(indicator="total_output_100m_yuan",
                           baseline=Decimal(self.output // 100_000_000),
                           target=Decimal(self.output * 13 // 1_000_000_000), by_year=on.year + 3),
            ),
            negative_list_clear=True,
        )
        result = self.ledger.issue(
            Command.APPLY, None, self.meta(Role.COUNTY, on), None, dossier=dossier
        )
        self.cluster_id, self.version, self.events = result.cluster_id, result.version, 1

    def report(self, year: int, due_month: int) -> None:
        late = self.rng.random() < 0.07
        on = self.day(year + 1, due_month + 1 if late else due_month - 1, 25)
        role = Role.COUNTY if self.programme == Programme.FJ or self.rng.random() < 0.5 \
            else Role.OPERATING_UNIT
        growth = 100 + self.rng.randrange(-5, 15)
        self.output = self.output * growth // 100
        self.step(Command.FILE_ANNUAL_REPORT, self.meta(role, on,
                  comment="年度培育情况信息表" if self.rng.random() < 0.5 else ""),
                  year=year, figures=AnnualFigures(
                      total_output_yuan=self.output, rd_investment_yuan=self.output // 40,
                      quality_sme_count=self.rng.randrange(10, 60),
                      key_enterprise_count=self.rng.randrange(3, 30),
                      valid_invention_patents=self.rng.randrange(100, 900)))

    def major_change(self, year: int) -> None:
        kind = self.rng.choice((ChangeKind.SPATIAL_SCOPE, ChangeKind.SPATIAL_SCOPE,
                                ChangeKind.LEADING_INDUSTRY, ChangeKind.OPERATING_UNIT))
        if kind == ChangeKind.OPERATING_UNIT and self.programme == Programme.FJ:
            kind = ChangeKind.SPATIAL_SCOPE
        value = {
            ChangeKind.SPATIAL_SCOPE: f"规划范围调整为{self.rng.randrange(20, 99)}平方公里",
            ChangeKind.LEADING_INDUSTRY: f"{self.industry}及配套",
            ChangeKind.OPERATING_UNIT: f"{self.county_name}产业集群促进中心（{year}）",
        }[kind]
        comment = {
            ChangeKind.SPATIAL_SCOPE: "园区扩区，经县政府研究同意",
            ChangeKind.LEADING_INDUSTRY: "主导产业延伸至配套环节",
            ChangeKind.OPERATING_UNIT: "原运营单位改制，经区政府研究同意调整",
        }[kind]
        self.step(Command.REPORT_MAJOR_CHANGE,
                  self.meta(Role.COUNTY, self.day(year, self.rng.randrange(5, 12)),
                            comment=comment), kind=kind, new_value=value)

    def renewal(self, valid_until: date, decider: Role, doc_prefix: str) -> bool:
        requested = valid_until - timedelta(days=60 + self.rng.randrange(30))
        self.step(Command.REQUEST_RENEWAL, self.meta(Role.COUNTY, requested))
        passed = self.rng.random() < 0.98 or not self.mortal
        decided = valid_until - timedelta(days=5 + self.rng.randrange(20))
        fj = self.programme == Programme.FJ
        self.step(Command.DECIDE_RENEWAL, self.meta(
            decider, decided, user=f"{decider}-renewal", doc=self.doc(doc_prefix, decided),
            comment="三年发展规划目标基本完成" if passed else "复核未通过：主要指标未达标"),
            passed=passed, plan_targets_met=(passed if fj else None))
        return passed

    def revoke(self, on: date, ground: Ground, revoker: Role, doc_prefix: str) -> date:
        received = on + timedelta(days=2 + self.rng.randrange(5))
        self.step(Command.REVOKE, self.meta(
            revoker, on, user=f"{revoker}-director", doc=self.doc(doc_prefix, on),
            comment="经核查，依规撤销集群认定"), ground=ground, received_on=received)
        return received

    # ---- FJ ----------------------------------------------------------------------------------

    def run_fj(self) -> None:
        rng, ledger = self.rng, self.ledger
        year = rng.choice((2023, 2024, 2025, 2026))
        applied = self.day(year, rng.randrange(2, 7))
        self.apply(applied)
        fate = rng.random()
        if fate < 0.06:
            self.step(Command.DECLINE, self.meta(
                Role.CITY, applied + timedelta(days=30), comment="产值与主导产业占比未达推荐要求"))
            return
        self.step(Command.RECOMMEND, self.meta(Role.CITY, applied + timedelta(days=35)),
                  onsite_verified=True)
        if fate < 0.09:
            self.step(Command.REJECT, self.meta(Role.PROVINCE, applied + timedelta(days=70),
                      user="prov-director", comment="复审实地抽查：公共服务体系不完善"))
            return
        shortlisted = applied + timedelta(days=60)
        self.step(Command.SHORTLIST, self.meta(Role.PROVINCE, shortlisted, user="prov-reviewer"))
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            self.step(Command.RAISE_OBJECTION,
                      self.meta(Role.PROVINCE, shortlisted + timedelta(days=1),
                                user="prov-reviewer"),
                      subject="certification", summary="公示期间收到实名反映：产值数据存疑")
            number = ledger.get_cluster(self.cluster_id).case.objections[-1].number  # type: ignore[arg-type]
            self.step(Command.RESOLVE_OBJECTION, self.meta(
                Role.PROVINCE, shortlisted + timedelta(days=6), user="prov-reviewer",
                comment="经核实，统计数据口径一致，异议不成立"), number=number, upheld=False)
        certified = shortlisted + timedelta(days=21)
        self.step(Command.CERTIFY, self.meta(Role.PROVINCE, certified, user="prov-director",
                                            doc=self.doc("闽工信函中小", certified)))
        valid_until = ledger.get_cluster(self.cluster_id).case.valid_until  # type: ignore[arg-type]
        assert valid_until is not None  # noqa: S101
        for y in range(certified.year, self.horizon_year):
            self.report(y, 3)
            if rng.random() < 0.55 + self.extra_changes_per_year:
                self.major_change(y + 1)
            for _ in range(int(self.extra_changes_per_year)):
                self.major_change(y + 1)
            if rng.random() < 0.003 and self.mortal:  # revoked for a ground other than expiry
                received = self.revoke(self.day(y + 1, 9), rng.choice(
                    (Ground.MAJOR_INCIDENT, Ground.MAJOR_CHANGE_UNREPORTED,
                     Ground.ANNUAL_REPORT_MISSING)), Role.PROVINCE, "闽工信中小")
                if not self.appeal(received):
                    return
            if valid_until.year == y + 1:
                if not self.renewal(valid_until, Role.PROVINCE, "闽工信中小"):
                    received = self.revoke(valid_until + timedelta(days=20),
                                           Ground.EXPIRED_WITHOUT_RENEWAL, Role.PROVINCE,
                                           "闽工信中小")
                    self.appeal(received, overturn=False)
                    return
                valid_until = ledger.get_cluster(self.cluster_id).case.valid_until  # type: ignore[arg-type]
                assert valid_until is not None  # noqa: S101

    def appeal(self, received: date, *, overturn: bool | None = None) -> bool:
        """Appeal a revocation (most do); True when it is overturned and the case goes on."""
        if self.rng.random() < 0.3:
            return False
        filed = received + timedelta(days=5)
        self.step(Command.APPEAL, self.meta(Role.COUNTY, filed,
                  comment="年度信息表已按期报送，附回执，请求复核"))
        outcome = overturn if overturn is not None else self.rng.random() < 0.5
        self.step(Command.DECIDE_APPEAL, self.meta(
            Role.PROVINCE, filed + timedelta(days=25), user="prov-appeals",
            doc=self.doc("闽工信中小", filed), comment="经复核作出决定"),
            outcome=AppealOutcome.OVERTURNED if outcome else AppealOutcome.UPHELD)
        return outcome

    # ---- XM ----------------------------------------------------------------------------------

    def fund(self, funding_year: int, start: date) -> bool:
        """One funding year; False when the assessment entitles to nothing (the subsidy ends)."""
        ledger = self.ledger
        cluster = ledger.get_cluster(self.cluster_id)  # type: ignore[arg-type]
        version = ledger.rulebook_for(Programme.XM, start)
        amount = ledger.rules.entitlement(cluster, version, funding_year)
        if amount <= 0:
            return False
        split = self.rng.sample(CATEGORIES, 3)
        third = amount // 3
        lines = tuple(
            PlanLine(category=c, amount_fen=third if i < 2 else amount - 2 * third,
                     description=f"{c} {start.year}")
            for i, c in enumerate(split)
        )
        self.step(Command.SUBMIT_FUND_USE_PLAN, self.meta(Role.OPERATING_UNIT, start),
                  funding_year=funding_year, lines=lines)
        self.step(Command.REVIEW_FUND_USE_PLAN, self.meta(Role.COUNTY, start + timedelta(days=9)),
                  funding_year=funding_year, passed=True)
        approved = start + timedelta(days=20)
        self.step(
            Command.APPROVE_SUBSIDY,
            self.meta(Role.CITY, approved, user="city-fund-approver"),
            funding_year=funding_year,
            amount_fen=amount,
        )
        if self.rng.random() < 0.1:
            self.step(Command.RAISE_OBJECTION,
                      self.meta(Role.CITY, approved, user="city-fund-approver"),
                      subject=f"subsidy:{funding_year}", summary="公示期间收到反映：资金用途存疑")
            number = ledger.get_cluster(self.cluster_id).case.objections[-1].number  # type: ignore[arg-type]
            self.step(Command.RESOLVE_OBJECTION, self.meta(
                Role.CITY, approved + timedelta(days=4), user="city-fund-approver",
                comment="经核实，资金用途符合规定"), number=number, upheld=False)
        self.step(Command.PAY_SUBSIDY, self.meta(Role.CITY, approved + timedelta(days=21),
                                                user="city-treasurer"),
                  funding_year=funding_year, amount_fen=amount,
                  voucher=f"XMGX-{start.year}-{self.cluster_id.hex[:12]}-{funding_year}")  # type: ignore[union-attr]
        return True

    def score(self, year: int) -> None:
        rng = self.rng
        score = Decimal(f"{min(99.5, max(40.0, rng.gauss(78, 9))):.2f}")
        initial = self.day(year + 1, 2)
        self.step(Command.SCORE, self.meta(Role.COUNTY, initial), year=year,
                  stage=ScoreStage.DISTRICT_INITIAL, score=score)
        if rng.random() < 0.05:
            score = Decimal(f"{min(99.5, float(score) + rng.uniform(-3, 3)):.2f}")
            self.step(Command.SCORE, self.meta(Role.COUNTY, initial + timedelta(days=7),
                                              comment="更正：研发投入口径调整"),
                      year=year, stage=ScoreStage.DISTRICT_INITIAL, score=score, correction=True)
        self.step(Command.SCORE, self.meta(Role.CITY, self.day(year + 1, 3), user="city-assessor"),
                  year=year, stage=ScoreStage.CITY_FINAL, score=score)

    def audit(self, year: int) -> None:
        ledger = self.ledger
        for _ in range(self.rng.choice((1, 1, 2))):
            found = self.day(year, 6)
            self.step(
                Command.RECORD_AUDIT_FINDING,
                self.meta(Role.CITY, found, user="city-auditor"),
                summary="品牌建设费用中列支招待费，不符合专款专用",
                amount_questioned_fen=self.rng.randrange(1, 50) * 100_000,
            )
            number = len(ledger.get_cluster(self.cluster_id).case.audit_findings)  # type: ignore[arg-type]
            self.step(Command.CONFIRM_RECTIFICATION,
                      self.meta(Role.COUNTY, found + timedelta(days=40)), number=number)
            self.step(Command.CONFIRM_RECTIFICATION,
                      self.meta(Role.CITY, found + timedelta(days=55)), number=number)

    def run_xm(self) -> None:
        rng, ledger = self.rng, self.ledger
        applied = self.day(rng.choice((2025, 2026)), rng.randrange(1, 8))
        self.apply(applied)
        self.step(Command.RECOMMEND, self.meta(Role.CITY, applied + timedelta(days=20)),
                  onsite_verified=True)
        if rng.random() < 0.05 and self.mortal:
            self.step(Command.REJECT, self.meta(Role.MIIT_RECORDER, applied + timedelta(days=60),
                      comment="工信部未予认定"))
            return
        certified = applied + timedelta(days=50)
        self.step(Command.CERTIFY, self.meta(Role.MIIT_RECORDER, certified,
                                            doc=self.doc("工信部企业函", certified)))
        funding = self.fund(1, certified + timedelta(days=20))
        funding_year, audited = 1, False
        valid_until = ledger.get_cluster(self.cluster_id).case.valid_until  # type: ignore[arg-type]
        assert valid_until is not None  # noqa: S101
        for y in range(certified.year, self.horizon_year):
            self.score(y)
            self.report(y, 4)
            if funding and funding_year < 3:
                funding_year += 1
                funding = self.fund(funding_year, self.day(y + 1, 5))
            elif not audited:
                self.audit(y + 1)
                audited = True
            if rng.random() < 0.45 + self.extra_changes_per_year:
                self.major_change(y + 1)
            for _ in range(int(self.extra_changes_per_year)):
                self.major_change(y + 1)
            if rng.random() < 0.002 and self.mortal:
                self.revoke(self.day(y + 1, 9), Ground.MAJOR_INCIDENT, Role.MIIT_RECORDER,
                            "工信部企业函")
                return  # XM has no appeal route
            if valid_until.year == y + 1:
                if not self.renewal(valid_until, Role.MIIT_RECORDER, "工信部企业函"):
                    self.revoke(valid_until + timedelta(days=20), Ground.EXPIRED_WITHOUT_RENEWAL,
                                Role.MIIT_RECORDER, "工信部企业函")
                    return
                valid_until = ledger.get_cluster(self.cluster_id).case.valid_until  # type: ignore[arg-type]
                assert valid_until is not None  # noqa: S101

    def run(self) -> None:
        if self.programme == Programme.XM:
            self.run_xm()
        else:
            self.run_fj()


def play_case(ledger: ClusterLedger, regions: Regions, seed: int, index: int,
              horizon_year: int) -> CaseDriver:
    rng = random.Random(seed * 1_000_003 + index)
    driver = CaseDriver(ledger, regions, rng, index, horizon_year)
    driver.run()
    return driver


def play_long_case(ledger: ClusterLedger, regions: Regions, target_events: int,
                   horizon_year: int) -> CaseDriver:
    """One XM case with about `target_events` events: a long life with frequent major changes
    (the state-at-date benchmark's 1,000-event case), topped up to exactly `target_events`."""
    rng = random.Random(7)
    while True:
        per_year = max(0, target_events - 200) / max(1, horizon_year - 2026)
        driver = CaseDriver(ledger, regions, rng, 0, horizon_year, mortal=False,
                            extra_changes_per_year=per_year)
        if driver.programme == Programme.XM:
            break
    driver.run_xm()
    year = horizon_year
    while driver.events < target_events and driver.status == Status.CERTIFIED:
        driver.major_change(year)
    return driver
