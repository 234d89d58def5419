"""A case's state read as the funding and deadline views read the fold's digest.

The funding rows (`projections.folds.funding_rows`: entitlement, remaining) and the open
obligations (`projections.folds.deadline_rows`: annual report, renewal, notices, appeal) are
functions of the fold's `ClusterDigest`, and they call the domain's readings
(`domain.readings`). The bitemporal view needs the same rows for the case as it stood on a
date as known at a time, which `domain.history.case_at` (or the aggregate) gives as a
`CaseState`. `digest_of` reads that state into the digest the fold would hold, so the rows
come from the same functions and no rule is written a second time.

The one thing a `CaseState` does not keep is each payment's amount (it keeps the vouchers,
their dates and the total): the caller hands in the amounts by voucher (its storable form,
`projections.text`, which jsonb can hold), from the case's `SubsidyPaid` events (a voucher is
unique across the programme, `domain.voucher`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from uuid import UUID

from domain.case import CaseState, Funding
from domain.regions import Regions
from projections.folds import (
    AppealDigest,
    AssessmentDigest,
    ClusterDigest,
    FundingDigest,
    Payment,
    RevocationDigest,
)
from projections.text import storable, storable_or_none


def _submitted(funding: Funding) -> date:
    if funding.plan_submitted_on is None:  # a funding year exists from its plan on
        raise ValueError(f"funding year {funding.funding_year} has no plan")
    return funding.plan_submitted_on


def digest_of(
    cluster_id: UUID, case: CaseState, regions: Regions, amounts: Mapping[str, int],
    *, version: int = 0, position: int = 0,
) -> ClusterDigest:
    """The digest the fold holds for a case in this state (texts in their storable form).

    The rulebook version is the one the case records (`CaseState.rulebook_version`), which is
    what the annual report's command hands to `domain.readings.annual_report_rulebook`."""
    dossier = case.dossier
    county = dossier.county_code
    notice = case.notice
    revocation, appeal = case.revocation, case.appeal
    return ClusterDigest(
        cluster_id=cluster_id,
        name=storable(dossier.name),
        programme=str(dossier.programme),
        province_code=county[:2] + "0000",
        city_code=regions.city_of(county).code,
        county_code=county,
        leading_industry=storable(dossier.leading_industry),
        operating_unit=storable_or_none(dossier.operating_unit),
        status=str(case.status),
        applied_on=case.applied_on,
        rulebook_version=case.rulebook_version,
        notice_ends_on=notice.ends_on if notice is not None else None,
        notice_provisional=notice.provisional if notice is not None else False,
        certified_on=case.certified_on,
        valid_until=case.valid_until,
        renewal_pending=case.renewal_pending,
        reports=tuple(sorted(case.reports)),
        assessments=tuple(
            AssessmentDigest(
                year=a.year, number=a.number, final_score=a.final_score, failed=a.failed
            )
            for a in sorted(case.assessments.values(), key=lambda a: a.number)
        ),
        funding=tuple(
            FundingDigest(
                funding_year=f.funding_year,
                plan_submitted_on=_submitted(f),
                requested_fen=f.requested_fen,
                district_passed=f.district_passed,
                approved_fen=f.approved_fen,
                approved_on=f.approved_on,
                entitlement_fen=f.entitlement_fen if f.approved_by is not None else None,
                notice_ends_on=f.notice.ends_on if f.notice is not None else None,
                notice_provisional=f.notice.provisional if f.notice is not None else False,
                payments=tuple(
                    Payment(voucher=storable(voucher), paid_on=paid_on,
                            amount_fen=amounts[storable(voucher)])
                    for voucher, paid_on in zip(f.vouchers, f.paid_on, strict=True)
                ),
                rulebook_version=f.rulebook_version,
            )
            for _, f in sorted(case.funding.items())
        ),
        revocation=RevocationDigest(
            decided_on=revocation.decided_on,
            received_on=revocation.received_on,
            appeal_deadline=revocation.appeal_deadline,
            appeal_deadline_provisional=revocation.appeal_deadline_provisional,
            status_before=str(revocation.status_before),
        ) if revocation is not None else None,
        appeal=AppealDigest(
            filed_on=appeal.filed_on,
            reply_due=appeal.reply_due,
            reply_due_provisional=appeal.reply_due_provisional,
            outcome=str(appeal.outcome) if appeal.outcome is not None else None,
        ) if appeal is not None else None,
        version=version,
        position=position,
    )
