"""Encode/decode speed of the msgspec mapper against eventsourcing's default JSON transcoder.

The default transcoder cannot store `datetime.date` (or Structs, Decimals in Structs) at all, so
for the comparison it gets transcodings for the types our events carry.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    Transcoding,
    UUIDAsHex,
)

from domain.actors import Actor, EventMeta, Role
from domain.case import Notice
from domain.cluster import Cluster
from domain.facts import AnnualFigures, Dossier, PlanLine, PlanTarget
from domain.indicators import Indicators
from domain.rulebook import Programme
from infra.codec import MsgspecMapper
from infra.rules import load_programmes


class _DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def _struct_transcoding(cls: type[msgspec.Struct]) -> Transcoding:
    class _StructAsDict(Transcoding):
        type = cls
        name = cls.__name__

        def encode(self, obj: Any) -> dict[str, Any]:
            return {f: getattr(obj, f) for f in obj.__struct_fields__}

        def decode(self, data: dict[str, Any]) -> Any:
            return cls(**data)

    return _StructAsDict()


def default_mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), _DateAsISO()):
        transcoder.register(transcoding)
    for cls in (Actor, EventMeta, Dossier, Indicators, AnnualFigures, PlanTarget, PlanLine, Notice):
        transcoder.register(_struct_transcoding(cls))
    return Mapper(transcoder=transcoder)


def sample_events(n: int) -> list[Any]:
    meta = EventMeta(
        actor=Actor(user_id="u", role=Role.COUNTY, organisation="o", jurisdiction="350582"),
        effective_date=date(2024, 3, 1), document_number="闽〔2024〕1号", comment="c",
    )
    dossier = Dossier(
        name="厦门市思明区智慧城市智能系统产业集群", programme=Programme.XM, county_code="350203",
        leading_industry="智慧城市智能系统", operating_unit="厦门软件园运营管理有限公司",
        indicators=Indicators(sme_output_share_pct=Decimal(72), output_value_yuan=(1, 2, 3)),
        negative_list_clear=True,
    )
    cluster = Cluster.apply(meta, dossier, "XM-2024", profile=load_programmes().get("XM"))
    event = cluster.collect_events()[0]
    return [event] * n


def measure(mapper: Mapper[Any], events: list[Any]) -> tuple[float, float]:
    start = time.perf_counter()
    stored = [mapper.to_stored_event(e) for e in events]
    encode = len(events) / (time.perf_counter() - start)
    start = time.perf_counter()
    for s in stored:
        mapper.to_domain_event(s)
    decode = len(events) / (time.perf_counter() - start)
    return encode, decode


def main(n: int = 50_000) -> dict[str, float]:
    events = sample_events(n)
    ours = measure(MsgspecMapper(transcoder=JSONTranscoder()), events)
    theirs = measure(default_mapper(), events)
    result = {
        "msgspec_encode_per_s": ours[0], "msgspec_decode_per_s": ours[1],
        "default_json_encode_per_s": theirs[0], "default_json_decode_per_s": theirs[1],
    }
    for key, value in result.items():
        print(f"{key:<28} {value:>12,.0f}")
    print(f"encode speed-up {ours[0] / theirs[0]:.1f}x, decode speed-up {ours[1] / theirs[1]:.1f}x")
    return result


if __name__ == "__main__":
    main()
