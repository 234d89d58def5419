"""Payment vouchers are unique across the whole programme: an index aggregate per voucher.

Its id is derived from the voucher number (uuid5), so a second payment with the same voucher,
on any cluster, collides on the event store's primary key in the same save as the payment
(`taken` is then the answer: `domain.commands.Claim`).
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import RuleViolation


def voucher_id(voucher_number: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"cluster-ledger:voucher:{voucher_number.strip()}")


class VoucherIndex(Aggregate):
    class Registered(Aggregate.Created):
        voucher_number: str
        cluster_id: UUID

    @staticmethod
    def create_id(voucher_number: str, cluster_id: UUID) -> UUID:  # type: ignore[override]  # noqa: ARG004
        return voucher_id(voucher_number)

    @event(Registered)
    def __init__(self, voucher_number: str, cluster_id: UUID) -> None:
        self.voucher_number = voucher_number
        self.cluster_id = cluster_id

    def taken(self) -> RuleViolation:
        """The refusal when the save collided: another payment holds this voucher already."""
        return RuleViolation(
            "voucher_already_paid",
            f"voucher {self.voucher_number} has been paid already",
            voucher=self.voucher_number,
        )
