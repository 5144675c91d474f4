"""A real S3 server for tests, benchmarks and demos: Ceph's RADOS Gateway (RGW)
from Debian's packages, on a throwaway single-node cluster on loopback.

moto accepts wrong secrets, unknown access keys and tampered or expired
presigned URLs; RGW refuses them as S3 and R2 do. Debian 12's RGW (Ceph 16)
has no standalone backend, so one ``ceph-mon`` and one ``ceph-osd`` keeping
its objects in RAM (``memstore``) run underneath it. Everything lives in a
temporary directory with its own configuration file and cluster id, and only
the processes started here are stopped.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from .server import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: The Debian packages that provide every binary the launcher runs.
PACKAGES = ("radosgw", "ceph-mon", "ceph-osd")

_BINARIES = "ceph ceph-authtool monmaptool ceph-mon ceph-osd radosgw radosgw-admin"


class RGWUnavailableError(RuntimeError):
    """The Ceph binaries the launcher needs are not installed."""


class RGWStartError(RuntimeError):
    """The cluster or the gateway did not come up; the message ends with the
    tail of each daemon's log."""


@dataclass(frozen=True)
class RGW:
    """A running RADOS Gateway and the S3 credentials of its one user.

    .. versionadded:: 0.1
    """

    #: ``http://127.0.0.1:PORT``; path-style addressing.
    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    #: The ids of the daemons started for it (monitor, OSD, gateway).
    pids: tuple[int, ...] = ()

    def client(
        self,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        **config: Any,
    ) -> S3Client:
        """A boto3 S3 client for this server, with this user's keys unless
        others are given (to test refusals).

        :param region: RGW accepts any region in the signature's scope.
        :param config: extra :class:`botocore.config.Config` arguments.
        """
        options: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": "path"},
            # boto3 >= 1.36 sends CRC checksums with aws-chunked bodies by
            # default; R2 refuses some, so the project's clients turn them off.
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
            "retries": {"mode": "standard", "max_attempts": 2},
            **config,
        }
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(**options),
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh random name unless ``name`` is given) and
        return its name."""
        bucket = name or f"bucket-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


def missing_binaries() -> list[str]:
    """The Ceph binaries the launcher needs that are not on ``PATH``."""
    return [name for name in _BINARIES.split() if shutil.which(name) is None]


def rgw_available() -> bool:
    """Whether :func:`rgw_server` can run here (its binaries are installed)."""
    return not missing_binaries()


def _config(cluster: _Cluster, lc_interval: int | None, memstore_bytes: int) -> str:
    root = cluster.root
    return f"""\
[global]
fsid = {cluster.fsid}
mon host = [v2:127.0.0.1:{cluster.mon_port}]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
# The daemons trust each other; S3 clients still sign every request (SigV4).
auth cluster required = none
auth service required = none
auth client required = none
run dir = {root}/run
crash dir = {root}/crash
log file = {root}/log/$name.log
mon cluster log file = {root}/log/cluster.log
log to syslog = false
err to syslog = false
keyring = {root}/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0

[mon]
mon data = {root}/mon
# Start-up takes about 12 s with the default Paxos pacing, 1-3 s with this.
paxos propose interval = 0.05
paxos min wait = 0.01
# A nearly full /tmp must not make the monitor shut itself down.
mon data avail crit = 0
mon data avail warn = 0

[osd]
osd data = {root}/osd
osd objectstore = memstore
memstore device bytes = {memstore_bytes}

[client.rgw]
# radosgw wants a secure monitor session by default, which auth = none
# cannot give: without this it never connects.
ms mon client mode = crc
rgw data = {root}/rgw
rgw frontends = beast endpoint=127.0.0.1:{cluster.rgw_port}
rgw dns name = localhost
{f"rgw lc debug interval = {lc_interval}" if lc_interval is not None else ""}
"""


class _Cluster:
    """The temporary directory, the configuration and the daemons started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # A cluster id and ports of its own, so it meets no other cluster.
        self.fsid = str(uuid.uuid4())
        self.mon_port, self.rgw_port = free_port(), free_port()
        self.conf = root / "ceph.conf"
        self.logs = root / "log"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for sub in ("run", "crash", "log", "mon", "osd", "rgw"):
            (root / sub).mkdir()

    def run(self, *argv: str, timeout: float = 60) -> str:
        """Run a Ceph tool against this cluster only; its output."""
        try:
            result = subprocess.run(
                [argv[0], "-c", str(self.conf), *argv[1:]],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=_env(),
            )
        except subprocess.TimeoutExpired:
            raise RGWStartError(
                f"{' '.join(argv)} did not finish in {timeout} s{self.log_tails()}"
            ) from None
        if result.returncode != 0:
            raise RGWStartError(
                f"{' '.join(argv)} failed ({result.returncode}): "
                f"{result.stderr.strip()[-2000:]}{self.log_tails()}"
            )
        return result.stdout

    def spawn(self, name: str, *argv: str) -> None:
        """Start a daemon in the foreground (so its Popen handle is its pid)."""
        with open(self.logs / f"{name}.out", "wb") as out:
            self.procs[name] = subprocess.Popen(
                [
                    *_DIE_WITH_PARENT,
                    argv[0],
                    "-c",
                    str(self.conf),
                    "-f",
                    "--pid-file",
                    str(self.root / "run" / f"{name}.pid"),
                    *argv[1:],
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_env(),
            )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RGWStartError(
                    f"{name} exited with status {proc.returncode}{self.log_tails()}"
                )

    def stop(self, timeout: float = 10) -> None:
        """Stop the daemons one by one, gateway first: SIGTERM, then SIGKILL
        after ``timeout`` seconds."""
        # All at once takes about 5 s: the gateway's shutdown waits on the
        # monitor it can no longer reach. In order it takes well under 1 s.
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tails(self, lines: int = 15) -> str:
        parts = []
        for path in sorted(self.logs.iterdir()):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            if text:
                parts.append(f"\n--- {path.name} (last {len(text)} lines) ---")
                parts.extend(text)
        return "\n".join(parts)


# If the process that started the daemons is killed (a CI timeout), its
# finally clause never runs, so the kernel kills them; setpriv (util-linux)
# arranges it and execs the daemon, keeping its pid. The signal comes when the
# starting *thread* ends: enter and leave rgw_server() in one thread.
_DIE_WITH_PARENT = ("setpriv", "--pdeathsig", "KILL") if shutil.which("setpriv") else ()


def _env() -> dict[str, str]:
    # CEPH_ARGS or CEPH_CONF from the caller would point the tools elsewhere.
    return {k: v for k, v in os.environ.items() if not k.startswith("CEPH_")}


def _start_mon(cluster: _Cluster) -> None:
    keyring, monmap = cluster.root / "keyring", cluster.root / "monmap"
    # mkfs wants a keyring even though no daemon checks keys.
    cluster.run(
        "ceph-authtool", "--create-keyring", str(keyring), "--gen-key", "-n", "mon."
    )
    address = f"[v2:127.0.0.1:{cluster.mon_port}]"
    cluster.run("monmaptool", "--create", "--fsid", cluster.fsid, str(monmap))
    cluster.run("monmaptool", "--addv", "a", address, str(monmap))
    cluster.run("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap))
    cluster.spawn("mon.a", "ceph-mon", "-i", "a")


def _start_osd(cluster: _Cluster, deadline: float) -> None:
    osd_uuid = str(uuid.uuid4())
    osd_id = cluster.run("ceph", "osd", "new", osd_uuid).strip()
    cluster.run("ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
    cluster.spawn(f"osd.{osd_id}", "ceph-osd", "-i", osd_id)
    # The gateway creates its pools at start; with no OSD up it would hang.
    while True:
        cluster.check_alive()
        dump = json.loads(cluster.run("ceph", "osd", "dump", "-f", "json"))
        if any(osd["up"] for osd in dump["osds"]):
            return
        if time.monotonic() > deadline:
            raise RGWStartError(f"osd.{osd_id} did not come up{cluster.log_tails()}")
        time.sleep(0.1)


def _wait_http(cluster: _Cluster, endpoint: str, deadline: float) -> None:
    while True:
        cluster.check_alive()
        try:
            with urllib.request.urlopen(endpoint + "/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RGWStartError(
                f"radosgw did not answer GET {endpoint}/ in time{cluster.log_tails()}"
            )
        time.sleep(0.1)


@contextmanager
def rgw_server(
    *,
    lc_debug_interval: int | None = None,
    memstore_bytes: int = 1 << 30,
    timeout: float = 60,
) -> Iterator[RGW]:
    """Start a throwaway RADOS Gateway on a free loopback port; yield it and
    stop it (and only it) on exit.

    :param lc_debug_interval: make one lifecycle "day" last this many seconds
        (``rgw lc debug interval``), for expiry tests; unset, days are days.
    :param memstore_bytes: the most object bytes the in-RAM OSD holds (memory
        is taken as objects are stored, not up front).
    :param timeout: seconds to wait for the cluster and the gateway to start.
    :raises RGWUnavailableError: the Ceph binaries are not installed.
    :raises RGWStartError: a daemon failed or did not start in time; the
        message ends with the tail of each log.
    """
    missing = missing_binaries()
    if missing:
        raise RGWUnavailableError(
            f"{', '.join(missing)} not found: install the Debian packages "
            f"{' '.join(PACKAGES)} (apt-get install --no-install-recommends "
            f"{' '.join(PACKAGES)})"
        )
    root = Path(tempfile.mkdtemp(prefix="indox-rgw-"))
    cluster = None
    try:
        deadline = time.monotonic() + timeout
        cluster = _Cluster(root)
        cluster.conf.write_text(_config(cluster, lc_debug_interval, memstore_bytes))
        _start_mon(cluster)
        _start_osd(cluster, deadline)
        cluster.spawn("client.rgw", "radosgw", "-n", "client.rgw")
        endpoint = f"http://127.0.0.1:{cluster.rgw_port}"
        _wait_http(cluster, endpoint, deadline)
        server = RGW(
            endpoint=endpoint,
            access_key=secrets.token_hex(10).upper(),
            secret_key=secrets.token_hex(20),
            pids=tuple(proc.pid for proc in cluster.procs.values()),
        )
        cluster.run(
            "radosgw-admin",
            "user",
            "create",
            "--uid=indox",
            "--display-name=indox",
            f"--access-key={server.access_key}",
            f"--secret-key={server.secret_key}",
        )
        yield server
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    """``python -m flask_indox_media.testing.rgw``: run a server until Ctrl-C,
    printing its endpoint and keys as environment variables."""
    with rgw_server() as server:
        print(f"AWS_ENDPOINT_URL={server.endpoint}")
        print(f"AWS_ACCESS_KEY_ID={server.access_key}")
        print(f"AWS_SECRET_ACCESS_KEY={server.secret_key}", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
