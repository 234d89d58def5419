"""Revocation and appeal (FJ Art. 16)."""

from __future__ import annotations

from domain.actors import EventMeta
from domain.cluster import Cluster
from domain.commands import Command, CommandBody, Rules, command
from domain.errors import RuleViolation
from domain.facts import AppealOutcome, Ground
from domain.inputs import Day


class RevocationBody(CommandBody, kw_only=True):
    ground: Ground
    received_on: Day  # when the applicant received the decision: the appeal period runs from it


class AppealBody(CommandBody, kw_only=True):
    """The grounds of the appeal go in `comment`."""


class AppealDecisionBody(CommandBody, kw_only=True):
    outcome: AppealOutcome


@command(
    Command.REVOKE,
    body=RevocationBody,
    path="/revocation",
    operation_id="revoke",
    summary="Revoke the certification",
)
def revoke(cluster: Cluster, meta: EventMeta, body: RevocationBody, rules: Rules) -> None:
    """On one of the five grounds of FJ Art. 16, with the decision's document number, a reason,
    and the date the applicant received it; the appeal deadline (15 working days from receipt)
    is computed and recorded."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    deadline = (
        rules.period(body.received_on, version.appeal_period, "appeal period", version)
        if version.appeal_period is not None
        else None
    )
    cluster.revoke(
        meta,
        body.ground,
        body.received_on,
        deadline.due if deadline else None,
        deadline.provisional if deadline else False,
        version.id,
    )


@command(
    Command.APPEAL,
    body=AppealBody,
    path="/appeals",
    operation_id="appeal",
    summary="Appeal a revocation",
)
def appeal(
    cluster: Cluster, meta: EventMeta, body: AppealBody, rules: Rules  # noqa: ARG001
) -> None:
    """Within 15 working days of receiving the revocation (FJ Art. 16); the province's reply is
    due within 30 working days. The grounds go in `comment`."""
    version = rules.rulebook(cluster.case.dossier, meta.effective_date)
    if version.appeal_reply is None:
        raise RuleViolation("no_appeal_route", f"rulebook {version.id} provides no appeal")
    reply = rules.period(meta.effective_date, version.appeal_reply, "appeal reply", version)
    cluster.appeal(meta, reply.due, reply.provisional, version.id)


@command(
    Command.DECIDE_APPEAL,
    body=AppealDecisionBody,
    path="/appeals/decision",
    operation_id="decideAppeal",
    summary="Decide an appeal",
)
def decide_appeal(
    cluster: Cluster, meta: EventMeta, body: AppealDecisionBody, rules: Rules  # noqa: ARG001
) -> None:
    """`upheld`: the revocation stands; `overturned`: certification restored with its original
    validity. The user who revoked may not decide the appeal (four eyes)."""
    cluster.decide_appeal(meta, body.outcome)
