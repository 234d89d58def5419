"""The msgspec mapper (infra/codec.py) round-trips every Cluster event and snapshot: stored
state decodes into the event's own types (dates, Decimals, enums, nested Structs, int-keyed
dicts), replays to an equal case, and is canonical bytes. Pure: no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder, MapperDeserialisationError, StoredEvent

from domain.case import Status
from domain.cluster import CERTIFICATION, Cluster, cluster_event_classes
from domain.facts import AppealOutcome, ChangeKind, Ground, ScoreStage
from infra.codec import MsgspecMapper
from tests.unit.cluster_steps import (
    FJ_CERTIFIED_ON,
    FJ_SHORTLISTED_ON,
    SUBSIDY_APPROVED_ON,
    SUBSIDY_NOTICE_ENDS,
    YEAR_ONE_FEN,
    appeal,
    appeal_decision_meta,
    approve,
    certify_meta,
    decide_renewal,
    file_report,
    fj_applied,
    fj_city,
    fj_county,
    fj_recommended,
    fj_rules,
    fj_under_notice,
    miit_recorder,
    pay,
    profile_of,
    province,
    request_renewal,
    review_plan,
    revoke,
    score,
    submit_plan,
    xm_certified,
    xm_city,
    xm_district,
)

EVENT_TYPES = frozenset(cluster_event_classes().values())


def mapper() -> MsgspecMapper:
    return MsgspecMapper(transcoder=JSONTranscoder())


def round_trip(event: Any) -> Any:
    codec = mapper()
    return codec.to_domain_event(codec.to_stored_event(event))


def fj_full_lifecycle() -> Cluster:
    """Applied through certification with an objection, report, change, renewal, revocation,
    appeal and its decision."""
    cluster = fj_under_notice()
    number = cluster.raise_objection(province(FJ_SHORTLISTED_ON, user_id="prov-a"),
                                     CERTIFICATION, "产值数据存疑")
    cluster.resolve_objection(province(date(2023, 5, 9), user_id="prov-a", comment="经核查不成立"),
                              number, upheld=False)
    rules = fj_rules()
    cluster.certify(certify_meta(FJ_CERTIFIED_ON), rules.validity_years, rules.id,
        profile=profile_of(cluster))
    file_report(cluster, 2023, date(2024, 3, 28))
    cluster.report_major_change(fj_county(date(2024, 6, 1)), ChangeKind.SPATIAL_SCOPE, "扩至安海镇",
        profile=profile_of(cluster))
    request_renewal(cluster)
    decide_renewal(cluster, passed=True)
    revoke(cluster, Ground.MAJOR_INCIDENT, on=date(2026, 9, 24), received_on=date(2026, 9, 25))
    appeal(cluster, date(2026, 10, 9))
    cluster.decide_appeal(appeal_decision_meta(date(2026, 11, 2)), AppealOutcome.OVERTURNED)
    return cluster


def xm_full_lifecycle() -> Cluster:
    """Recorded MIIT certification, subsidy year 1 with an objection, an assessment with a
    correction and a failure ground, report, operating-unit change, audit and rectification,
    and a failed renewal."""
    cluster = xm_certified()
    submit_plan(cluster)
    review_plan(cluster)
    approve(cluster)
    number = cluster.raise_objection(xm_city(SUBSIDY_APPROVED_ON, user_id="city-notice"),
                                     "subsidy:1", "运营单位存在违规")
    cluster.resolve_objection(xm_city(SUBSIDY_NOTICE_ENDS, comment="异议不成立"), number,
                              upheld=False)
    pay(cluster, YEAR_ONE_FEN, "XM-2025-0001")
    score(cluster, 2025, ScoreStage.DISTRICT_INITIAL, "79.99")
    score(cluster, 2025, ScoreStage.CITY_FINAL, "80.50")
    score(cluster, 2025, ScoreStage.CITY_FINAL, "58.25", correction=True, comment="年报未及时报送",
          failure_grounds=(Ground.ANNUAL_REPORT_MISSING,))
    file_report(cluster, 2025, date(2026, 5, 6))
    cluster.report_major_change(xm_district(date(2026, 6, 1), comment="原运营单位注销"),
                                ChangeKind.OPERATING_UNIT, "厦门市思明区集群服务有限公司",
                                    profile=profile_of(cluster))
    finding = cluster.record_audit_finding(xm_city(date(2026, 7, 1)), "品牌建设费用超计划",
                                           1_250_000)
    cluster.confirm_rectification(xm_city(date(2026, 9, 1), user_id="city-inspector"), finding)
    cluster.confirm_rectification(xm_district(date(2026, 9, 3)), finding)
    cluster.request_renewal(xm_district(date(2027, 12, 1)))
    cluster.decide_renewal(
        miit_recorder(date(2028, 1, 10), document_number="工信部企业函〔2028〕3号",
                      comment="复核未通过"),
        passed=False, plan_targets_met=None, validity_years=3, rulebook_version="XM-2024",
            profile=profile_of(cluster),
    )
    return cluster


def fj_declined() -> Cluster:
    cluster = fj_applied()
    cluster.decline_to_recommend(fj_city(date(2023, 4, 3), comment="择优未推荐"))
    return cluster


def fj_rejected() -> Cluster:
    cluster = fj_recommended()
    cluster.reject(
        province(date(2023, 5, 4), comment="复审实地抽查未通过"),
        profile=profile_of(cluster),
    )
    return cluster


def fj_withdrawn() -> Cluster:
    cluster = fj_recommended()
    cluster.withdraw(fj_county(date(2023, 4, 20), comment="企业调整发展规划，主动撤回申报"))
    return cluster


def lifecycles() -> list[Cluster]:
    return [fj_full_lifecycle(), xm_full_lifecycle(), fj_declined(), fj_rejected(),
            fj_withdrawn()]


def all_events() -> list[Any]:
    return [event for cluster in lifecycles() for event in cluster.pending_events]


def replay(events: list[Any]) -> Cluster:
    aggregate: Any = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Cluster)
    return aggregate


def events_of(name: str) -> list[Any]:
    return [event for event in all_events() if type(event).__name__ == name]


# ---- every event type -----------------------------------------------------------------------


def test_lifecycles_trigger_every_event_type_of_the_aggregate() -> None:
    assert {type(event) for event in all_events()} == EVENT_TYPES


def test_the_aggregate_declares_the_eight_named_events() -> None:
    names = {cls.__name__ for cls in EVENT_TYPES}
    assert names >= {"Applied", "Recommended", "Certified", "AnnualReportFiled", "Scored",
                     "SubsidyPaid", "Revoked", "Appealed"}


@pytest.mark.parametrize("name", sorted(cls.__name__ for cls in EVENT_TYPES))
def test_event_round_trips_to_an_equal_event(name: str) -> None:
    events = events_of(name)
    assert events
    for event in events:
        decoded = round_trip(event)
        assert type(decoded) is type(event)
        assert decoded == event


@pytest.mark.parametrize("name", sorted(cls.__name__ for cls in EVENT_TYPES))
def test_stored_state_is_canonical_bytes(name: str) -> None:
    codec = mapper()
    for event in events_of(name):
        stored = codec.to_stored_event(event)
        assert codec.to_stored_event(event).state == stored.state
        assert codec.to_stored_event(codec.to_domain_event(stored)).state == stored.state


def test_stored_event_topic_names_the_cluster_event_class() -> None:
    event = next(e for e in all_events() if isinstance(e, Cluster.Certified))
    assert mapper().to_stored_event(event).topic == "domain.cluster:Cluster.Certified"


def test_stored_event_keeps_originator_id_and_version_out_of_the_state() -> None:
    event = all_events()[0]
    stored = mapper().to_stored_event(event)
    assert (stored.originator_id, stored.originator_version) == (
        event.originator_id, event.originator_version
    )
    assert b"originator_version" not in stored.state


# ---- types survive ----------------------------------------------------------------------------


def test_scores_come_back_as_decimals_with_their_digits() -> None:
    decoded = [round_trip(event) for event in events_of("Scored")]
    assert [event.score for event in decoded] == [
        Decimal("79.99"), Decimal("80.50"), Decimal("58.25")
    ]
    assert all(type(event.score) is Decimal for event in decoded)
    assert str(decoded[1].score) == "80.50"


def test_enums_come_back_as_enums() -> None:
    revoked = round_trip(events_of("Revoked")[0])
    scored = round_trip(events_of("Scored")[2])
    assert type(revoked.ground) is Ground
    assert scored.failure_grounds == (Ground.ANNUAL_REPORT_MISSING,)
    assert type(scored.stage) is ScoreStage


def test_dates_come_back_as_dates() -> None:
    certified = round_trip(events_of("Certified")[0])
    assert type(certified.valid_until) is date
    assert type(certified.meta.effective_date) is date


def test_nested_dossier_comes_back_with_decimal_indicators() -> None:
    applied = round_trip(events_of("Applied")[0])
    assert type(applied.dossier.indicators.output_growth_avg_pct) is Decimal
    assert applied.dossier == events_of("Applied")[0].dossier


def test_optional_none_fields_come_back_as_none() -> None:
    decided = [round_trip(event) for event in events_of("RenewalDecided")]
    assert [event.valid_until for event in decided] == [date(2029, 5, 22), None]


# ---- replay -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build", [fj_full_lifecycle, xm_full_lifecycle, fj_declined, fj_rejected],
    ids=["FJ", "XM", "not-recommended", "rejected"],
)
def test_replaying_decoded_events_rebuilds_an_equal_case(build: Any) -> None:
    cluster: Cluster = build()
    rebuilt = replay([round_trip(event) for event in cluster.pending_events])
    assert rebuilt.case == cluster.case
    assert (rebuilt.id, rebuilt.version) == (cluster.id, cluster.version)


def test_replayed_xm_case_keeps_int_keyed_years() -> None:
    cluster = xm_full_lifecycle()
    rebuilt = replay([round_trip(event) for event in cluster.pending_events])
    assert list(rebuilt.case.funding) == [1]
    assert list(rebuilt.case.assessments) == [2025]
    assert rebuilt.case.assessments[2025].failed


# ---- snapshots ----------------------------------------------------------------------------------


def snapshot_round_trip(cluster: Cluster) -> Cluster:
    snapshot = Cluster.Snapshot.take(cluster)
    decoded = round_trip(snapshot)
    assert type(decoded) is Cluster.Snapshot
    restored = decoded.mutate(None)
    assert isinstance(restored, Cluster)
    return restored


@pytest.mark.parametrize(
    "build", [fj_full_lifecycle, xm_full_lifecycle], ids=["FJ", "XM"]
)
def test_snapshot_round_trip_rebuilds_an_equal_case(build: Any) -> None:
    cluster: Cluster = build()
    restored = snapshot_round_trip(cluster)
    assert restored.case == cluster.case
    assert (restored.id, restored.version) == (cluster.id, cluster.version)
    assert (restored.created_on, restored.modified_on) == (cluster.created_on, cluster.modified_on)


def test_snapshot_topic_names_the_cluster_snapshot_class() -> None:
    stored = mapper().to_stored_event(Cluster.Snapshot.take(fj_full_lifecycle()))
    assert stored.topic == "domain.cluster:Cluster.Snapshot"


def test_aggregate_restored_from_a_snapshot_accepts_the_next_command() -> None:
    restored = snapshot_round_trip(fj_full_lifecycle())
    assert restored.case.status == Status.CERTIFIED
    file_report(restored, 2026, date(2027, 3, 1))
    assert [type(e) for e in restored.pending_events] == [Cluster.AnnualReportFiled]
    assert sorted(restored.case.reports) == [2023, 2026]


def test_aggregate_restored_from_a_snapshot_still_applies_its_guards() -> None:
    restored = snapshot_round_trip(xm_full_lifecycle())
    assert restored.voucher_paid("XM-2025-0001")
    assert restored.case.funding[1].paid_fen == YEAR_ONE_FEN


# ---- bad bytes -----------------------------------------------------------------------------------


def test_undecodable_state_raises_a_deserialisation_error_naming_the_event() -> None:
    stored = mapper().to_stored_event(events_of("Certified")[0])
    broken = StoredEvent(
        originator_id=stored.originator_id, originator_version=stored.originator_version,
        topic=stored.topic, state=stored.state.replace(b'"valid_until":"', b'"valid_until":"x'),
    )
    with pytest.raises(MapperDeserialisationError, match=r"Cluster\.Certified"):
        mapper().to_domain_event(broken)


def test_state_of_the_wrong_shape_raises_a_deserialisation_error() -> None:
    stored = mapper().to_stored_event(events_of("Recommended")[0])
    broken = StoredEvent(
        originator_id=stored.originator_id, originator_version=stored.originator_version,
        topic=stored.topic, state=b"{}",
    )
    with pytest.raises(MapperDeserialisationError):
        mapper().to_domain_event(broken)
