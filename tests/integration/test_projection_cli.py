"""`cluster-ledger project status|rebuild` against the session database."""

from __future__ import annotations

import pytest

from api.cli import main
from infra.application import ClusterLedger
from infra.database import ConnectionInfo
from projections.rebuild import rebuild
from tests.factories import certified_fj, fj_dossier


@pytest.fixture
def cli_env(migrated: ConnectionInfo, monkeypatch: pytest.MonkeyPatch) -> ConnectionInfo:
    monkeypatch.setenv("DATABASE_URL", migrated.url)
    return migrated


def test_project_status_prints_position_head_and_lag_per_view(
    cli_env: ConnectionInfo, ledger: ClusterLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    certified_fj(ledger, fj_dossier("晋江市（命令行）产业集群"))
    for name in ("status", "funding", "deadlines", "bitemporal"):
        rebuild(cli_env, name)  # brings every view to the head, whatever else runs
    head = ledger.recorder.max_notification_id()
    assert main(["project", "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["view", "position", "head", "lag"]
    assert [line.split()[0] for line in lines[1:]] == [
        "status", "funding", "deadlines", "bitemporal"
    ]
    assert {tuple(line.split()[1:]) for line in lines[1:]} == {(str(head), str(head), "0")}


def test_project_rebuild_reports_what_it_folded(
    cli_env: ConnectionInfo, ledger: ClusterLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    certified_fj(ledger, fj_dossier("晋江市（命令行重建）产业集群"))
    assert main(["project", "rebuild", "deadlines"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("rebuilt deadlines: ")
    assert f"position {ledger.recorder.max_notification_id()}" in out


def test_project_rebuild_of_an_unknown_view_fails_with_its_name(
    cli_env: ConnectionInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["project", "rebuild", "ledger"]) == 2
    assert "no view named 'ledger'" in capsys.readouterr().err
