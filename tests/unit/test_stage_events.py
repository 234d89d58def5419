"""The aggregate is assembled from stage modules; its events keep the topics a deployed log
stores them under (`domain.cluster:Cluster.<Name>`), and each resolves to the class the stage's
command triggers."""

from __future__ import annotations

from eventsourcing.utils import get_topic, resolve_topic

from domain.cluster import Cluster
from domain.stage import stage_event_classes
from infra.application import event_classes

STORED_NAMES = {
    "Recommended",
    "NotRecommended",
    "Shortlisted",
    "ObjectionRaised",
    "ObjectionResolved",
    "Certified",
    "Rejected",
    "AnnualReportFiled",
    "Scored",
    "FundUsePlanSubmitted",
    "FundUsePlanReviewed",
    "SubsidyApproved",
    "SubsidyPaid",
    "MajorChangeReported",
    "RenewalRequested",
    "RenewalDecided",
    "Revoked",
    "Appealed",
    "AppealDecided",
    "AuditFindingRecorded",
    "RectificationConfirmed",
    "Withdrawn",  # declared in a stage module, stored under the same scheme
}


def test_every_stage_event_keeps_its_stored_topic() -> None:
    events = stage_event_classes(Cluster)
    assert set(events) == STORED_NAMES
    for name, cls in events.items():
        topic = f"domain.cluster:Cluster.{name}"
        assert get_topic(cls) == topic
        assert resolve_topic(topic) is cls
        assert getattr(Cluster, name) is cls  # Cluster.<Name> names the class that is triggered


def test_the_codec_prepares_every_stored_event_class() -> None:
    topics = {get_topic(cls) for cls in event_classes()}
    assert {f"domain.cluster:Cluster.{name}" for name in STORED_NAMES} <= topics
    assert "domain.cluster:Cluster.Applied" in topics
