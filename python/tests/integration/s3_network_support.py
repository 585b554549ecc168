"""Networks between seqr and S3 for the integration tests: a TLS front that presents a chosen certificate
(the broken ones TLS must refuse) and a real forward proxy (tinyproxy from Debian) as the egress proxy."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from fixtures.processes import stop_process
from fixtures.tls import CertificateFiles


class TlsFront:
    """Listens on 127.0.0.1 with TLS (``use`` picks the certificate new connections see) and forwards the
    decrypted bytes to a plain-HTTP port. A client that refuses the certificate never gets past the handshake,
    so what stands behind the front never matters for the refusals."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._context: Optional[ssl.SSLContext] = None
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        # Bytes clients sent after the handshake: requests sent over a connection they should have refused.
        self.bytes_forwarded = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._listener.getsockname()[1]}"

    def use(self, certificate: CertificateFiles) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(certificate.certificate), str(certificate.key))
        self._context = context

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        assert self._context is not None, "TlsFront.use(certificate) first"
        try:
            secured = self._context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except OSError:
            secured.close()
            return
        threading.Thread(target=_pump, args=(upstream, secured), daemon=True).start()
        _pump(secured, upstream, self._count)

    def _count(self, size: int) -> None:
        self.bytes_forwarded += size

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()


def _pump(source: socket.socket, sink: socket.socket, count: Optional[Callable[[int], None]] = None) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if count is not None:
                count(len(data))
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class ForwardProxyUnavailable(RuntimeError):
    """tinyproxy is not installed (scripts/setup.sh installs it): the egress proxy tests cannot run."""


class Tinyproxy:
    """tinyproxy in the foreground on a loopback port, logging every request it forwards to ``log``."""

    def __init__(self, workdir: Path, port: int) -> None:
        binary = shutil.which("tinyproxy")
        if binary is None:
            raise ForwardProxyUnavailable("tinyproxy is not installed (scripts/setup.sh installs it)")
        self.binary = binary
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.log = self.workdir / "tinyproxy.log"
        self.config = self.workdir / "tinyproxy.conf"
        # No ConnectPort line: CONNECT (HTTPS endpoints) to any port. Info level logs each request line.
        self.config.write_text(
            f'Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile "{self.log}"\nLogLevel Info\n'
            "MaxClients 20\nAllow 127.0.0.1\nDisableViaHeader Yes\n"
        )
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-d", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "stderr.log").open("ab"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"tinyproxy exited with {self.process.returncode}: {self.log_text()[-2000:]}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise RuntimeError(f"tinyproxy did not listen on {self.port}: {self.log_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGTERM, 10)
            self.process = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
