"""Real local servers for the tests that need one: `chroma run`, and a throwaway PostgreSQL cluster.

Both listen on 127.0.0.1 on a free port and keep their files in a folder of their own, removed when
the context ends. PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres`
user that Debian's package creates (`runuser`), in a folder under /tmp that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port

_START_TIMEOUT_S = 60


@contextmanager
def running_chroma(folder: Path) -> Iterator[int]:
    """A `chroma run` server storing in `folder`; yields its port."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    command = [str(chroma), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _answers(f"http://127.0.0.1:{port}/api/v2/heartbeat"):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"chroma run did not start within {_START_TIMEOUT_S} s")
            time.sleep(0.3)
        yield port
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """Asks the process to end (SIGTERM), and kills it if it has not within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# --- PostgreSQL ------------------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: Debian's /usr/lib/postgresql/<newest version>/bin, or on PATH."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


@contextmanager
def running_postgres(user: str, password: str, database: str) -> Iterator[str]:
    """A fresh PostgreSQL cluster with `user` (password-authenticated over TCP) owning `database`;
    yields its SQLAlchemy URL (postgresql+psycopg://user:password@127.0.0.1:PORT/database)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("initdb not found: install PostgreSQL (apt-get install -y postgresql)")
    as_root = os.geteuid() == 0
    # As root, under /tmp itself: a TMPDIR inside root's own folders would be closed to the server's user.
    folder = Path(tempfile.mkdtemp(prefix="qa-bot-postgres-", dir="/tmp" if as_root else None))
    owner = ("postgres" if _user_exists("postgres") else "nobody") if as_root else None
    run_as = ["runuser", "-u", owner, "--"] if owner else []
    data = folder / "data"
    pg_ctl = [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        password_file = folder / "password"
        password_file.write_text(password)
        if owner:
            shutil.chown(folder, owner)
            shutil.chown(password_file, owner)
        _run(run_as + [str(bin_dir / "initdb"), "-D", str(data), "-U", user, f"--pwfile={password_file}",
                       "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync",
                       "--no-instructions"])  # fmt: skip
        port = _start(pg_ctl, folder)
        url = f"postgresql+psycopg://{user}:{password}@127.0.0.1:{port}"
        _create_database(f"{url}/postgres", database)
        yield f"{url}/{database}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _start(pg_ctl: list[str], folder: Path) -> int:
    # A port picked here can be taken before the server binds it; a retry makes that harmless.
    for _attempt in range(3):
        port = free_port()
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        started = subprocess.run(
            [*pg_ctl, "-o", options, "-l", str(folder / "server.log"), "-w", "-t", str(_START_TIMEOUT_S),
             "start"],
            capture_output=True, text=True,
        )  # fmt: skip
        if started.returncode == 0:
            return port
    log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
    raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{log[-2000:]}")


def _create_database(admin_url: str, database: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as db:
            db.exec_driver_sql(f'CREATE DATABASE "{database}"')
    finally:
        engine.dispose()


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
