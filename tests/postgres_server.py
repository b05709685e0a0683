"""A private, throw-away PostgreSQL server for the test session (the ``postgres_server`` fixture).

``PostgresServer.start()`` runs Debian's ``initdb`` into a new temporary directory (in ``/dev/shm`` when it has
room) and starts ``postgres`` on it:
listening on 127.0.0.1 only, on a free port, password required over TCP (a random one), its Unix socket in the
same private directory; fsync, synchronous commit and full-page writes off, since nothing here must survive a
crash. PostgreSQL refuses to run as root, so under root every server command runs as the ``postgres`` system user
(``runuser``), who owns the directory. ``stop()`` stops it and removes the directory.

Databases: ``create_database()`` is a fresh one, copied from a template (``TEMPLATE``, the store's schema already
migrated, or ``template1``: empty), which is much faster than migrating; ``drop_database()`` drops it, closing
any connection left to it.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

SKIP_VARIABLE = "SWITCHBOARD_SKIP_POSTGRES"
USER = "switchboard"
TEMPLATE = "switchboard_template"
START_TIMEOUT_S = 60


class PostgresUnavailable(Exception):
    """No server can be started here; the message says why and what to do."""


def find_bindir() -> Path:
    """The directory of ``initdb``, ``pg_ctl`` and ``postgres``: the newest ``/usr/lib/postgresql/*/bin`` (where
    Debian installs them; ``initdb`` is seldom on ``PATH``), else the one of ``initdb`` on ``PATH``."""
    def version(path: str) -> int:
        found = re.search(r"/postgresql/(\d+)/", path)
        return int(found.group(1)) if found else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(os.path.realpath(on_path))
    for initdb in candidates:
        bindir = Path(initdb).parent
        if all((bindir / name).exists() for name in ("pg_ctl", "postgres")):
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install Debian's postgresql package "
        f"(`make test` does, through scripts/system-deps.sh), or set {SKIP_VARIABLE}=1 to skip the PostgreSQL "
        "half of the store tests")


def _scratch_root() -> str | None:
    """``/dev/shm`` when it is a RAM disk with room to spare, else ``None`` (the usual temporary directory).
    In RAM, copying a template database takes milliseconds; on the disk of the machine this was written on it
    took half a second."""
    try:
        room = os.statvfs("/dev/shm")
    except OSError:
        return None
    enough = room.f_bavail * room.f_frsize >= 1 << 30
    return "/dev/shm" if enough and os.access("/dev/shm", os.W_OK | os.X_OK) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One private server; see the module docstring."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.password = secrets.token_hex(16)
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root, and there is no 'postgres' system user to run the "
                                          "server as (Debian's postgresql package creates it)") from None
        self.root = Path(tempfile.mkdtemp(prefix="switchboard-pg-", dir=_scratch_root()))
        if self._owner is not None:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._admin: psycopg.Connection | None = None
        self._names = itertools.count(1)

    # ------------------------------------------------------------------------------------------- process ----

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner.pw_name, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(f"{argv[0]} failed (exit status {done.returncode}): "
                                      f"{(done.stderr or done.stdout).strip()[-2000:]}\n{log}")
        return done

    def start(self) -> None:
        """initdb, then start the server and wait (``pg_ctl -w``, bounded by ``START_TIMEOUT_S``) until it
        accepts connections; the template database is created with the store's schema."""
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._owner is not None:
            os.chown(pwfile, self._owner.pw_uid, self._owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
        pwfile.unlink()
        for attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            try:
                self._pg_ctl_start()
                break
            except PostgresUnavailable:
                if attempt == 2 or "could not bind" not in self.log.read_text(errors="replace"):
                    raise
        self._create_template()

    def _pg_ctl_start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=64MB")
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_TIMEOUT_S),
                  "-o", options)

    def halt(self) -> None:
        """Stop the server (fast shutdown: every connection is cut), keeping its data; ``resume()`` restarts it."""
        self._close_admin()
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", str(START_TIMEOUT_S))

    def resume(self) -> None:
        """Start the halted server again, on the same port."""
        self._pg_ctl_start()

    def stop(self) -> None:
        """Stop the server, if it runs, and remove its directory."""
        self._close_admin()
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
            except PostgresUnavailable:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    # ----------------------------------------------------------------------------------------- databases ----

    def url(self, dbname: str) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def admin(self) -> psycopg.Connection:
        """A connection to the ``postgres`` database for administration (autocommit), kept for the session."""
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.url("postgres"), autocommit=True)
        return self._admin

    def _close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def _create_template(self) -> None:
        from engine.store.postgres import PostgresStore

        self.admin().execute(f"CREATE DATABASE {TEMPLATE}")
        PostgresStore(self.url(TEMPLATE)).close()

    def create_database(self, *, template: str = TEMPLATE) -> str:
        """A new database (its name) copied from ``template``: ``TEMPLATE`` (the schema migrated) or
        ``"template1"`` (empty)."""
        name = f"test_{next(self._names)}"
        admin = self.admin()
        # FILE_COPY (PostgreSQL 15+) copies the files instead of logging every page: quicker with fsync off.
        strategy = " STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else ""
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}{strategy}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def backend_pids(self, url: str) -> list[int]:
        """The server processes connected to the database of ``url`` (for tests that cut connections)."""
        return [row[0] for row in self.admin().execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (url.rpartition("/")[2],))]

    def terminate(self, url: str) -> int:
        """Cut every connection to the database of ``url`` and wait until their processes have exited
        (``pg_terminate_backend`` with a timeout, PostgreSQL 14+); how many there were."""
        pids = self.backend_pids(url)
        for pid in pids:
            assert self.admin().execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()[0]
        return len(pids)


__all__ = ["PostgresServer", "PostgresUnavailable", "SKIP_VARIABLE", "TEMPLATE", "find_bindir"]
