"""A private nginx in front of a service, with the configuration the project ships.

`deploy/nginx/catfacts.conf` is rendered as it is, but for its `listen` and `server` lines (a free
loopback port, the service's address), into a temporary folder of its own, with a main
configuration that keeps the pid, the logs and the temporary files there: no root-owned path,
no daemon, nothing left behind.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from bench.processes import ServiceProcess, free_port

SHIPPED = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "catfacts.conf"
SHIPPED_LISTEN = "listen 80 default_server;"
SHIPPED_SERVER = "server 127.0.0.1:5000;"

# Debian's nginx.conf, but for the paths: one worker process here, its 768 connections.
MAIN = """\
daemon off;
worker_processes 1;
user {user};
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 768; }}
http {{
    access_log off;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/catfacts.conf;
}}
"""


def nginx_binary() -> str | None:
    """Debian's nginx lives in /usr/sbin, which a user's PATH may not hold."""
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"
    return found


def render(service: str, port: int) -> str:
    """The shipped configuration, listening on loopback `port`, passing to `service` (host:port)."""
    text = SHIPPED.read_text()
    for line in (SHIPPED_LISTEN, SHIPPED_SERVER):
        if text.count(line) != 1:
            raise RuntimeError(f"{SHIPPED} no longer holds {line!r} once")
    text = text.replace(SHIPPED_LISTEN, f"listen 127.0.0.1:{port} default_server;")
    return text.replace(SHIPPED_SERVER, f"server {service};")


class NginxFront:
    """nginx with the shipped configuration in front of `service` ("127.0.0.1:5000")."""

    def __init__(self, binary: str, service: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._folder = Path(tempfile.mkdtemp(prefix="catfacts-nginx-"))
        (self._folder / "catfacts.conf").write_text(render(service, self.port))
        main = MAIN.format(folder=self._folder, user=getpass.getuser())
        (self._folder / "nginx.conf").write_text(main)
        command = [binary, "-p", str(self._folder), "-c", str(self._folder / "nginx.conf")]
        self.process = ServiceProcess([*command, "-e", str(self._folder / "error.log")], {})
        self._wait_listening()

    def stop(self) -> None:
        try:
            self.process.stop()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)

    @property
    def error_log(self) -> str:
        path = self._folder / "error.log"
        return path.read_text() if path.exists() else ""

    def _wait_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"nginx did not start:\n{self.process.output}") from None
                time.sleep(0.02)
