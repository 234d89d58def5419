"""Certification and its validity: certification or rejection, renewal review (FJ Art. 13–14;
XM Art. 7–8)."""

from __future__ import annotations

from domain.actors import EventMeta
from domain.cluster import Cluster
from domain.commands import Command, CommandBody, Rules, command


class CertifyBody(CommandBody, kw_only=True):
    """FJ: the province certifies; XM: the city records MIIT's certification."""


class RejectBody(CommandBody, kw_only=True):
    """The reason goes in `comment`."""


class RenewalRequestBody(CommandBody, kw_only=True):
    pass


class RenewalDecisionBody(CommandBody, kw_only=True):
    passed: bool
    plan_targets_met: bool | None = None  # FJ Art. 14: required for FJ


@command(
    Command.CERTIFY,
    body=CertifyBody,
    path="/certification",
    operation_id="certify",
    summary="Certify (FJ) or record MIIT's certification (XM)",
)
def certify(
    cluster: Cluster, meta: EventMeta, body: CertifyBody, rules: Rules  # noqa: ARG001
) -> None:
    """FJ Art. 13: the province certifies after a notice without open or upheld objections.
    XM Art. 7–8: the city records MIIT's certification. Needs the decision's document number;
    the recommending user may not certify (four eyes). Validity: 3 years."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    cluster.certify(meta, version.validity_years, version.id)


@command(
    Command.REJECT,
    body=RejectBody,
    path="/rejection",
    operation_id="reject",
    summary="Reject (FJ) or record MIIT's rejection (XM)",
)
def reject(
    cluster: Cluster, meta: EventMeta, body: RejectBody, rules: Rules  # noqa: ARG001
) -> None:
    """The certifying body refuses the case; the reason (`comment`) is required."""
    cluster.reject(meta)


@command(
    Command.REQUEST_RENEWAL,
    body=RenewalRequestBody,
    path="/renewal",
    operation_id="requestRenewal",
    summary="Apply for renewal review",
)
def request_renewal(
    cluster: Cluster, meta: EventMeta, body: RenewalRequestBody, rules: Rules  # noqa: ARG001
) -> None:
    """At the end of the 3-year validity the cluster applies for renewal review (复核;
    FJ Art. 14, XM Art. 8)."""
    cluster.request_renewal(meta)


@command(
    Command.DECIDE_RENEWAL,
    body=RenewalDecisionBody,
    path="/renewal/decision",
    operation_id="decideRenewal",
    summary="Decide the renewal review",
)
def decide_renewal(
    cluster: Cluster, meta: EventMeta, body: RenewalDecisionBody, rules: Rules
) -> None:
    """Passing extends validity by 3 years; FJ also records whether the 3-year plan's targets
    were met. A failed renewal needs a reason and is revocation ground (1)."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    cluster.decide_renewal(
        meta,
        passed=body.passed,
        plan_targets_met=body.plan_targets_met,
        validity_years=version.validity_years,
        rulebook_version=version.id,
    )
