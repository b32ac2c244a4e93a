"""Make any connect to a non-loopback address fail and be recorded: tests of the outbound deny
list must never send traffic off this machine, even when the check under test is broken."""

from __future__ import annotations

import ipaddress
import socket


def loopback_only(monkeypatch) -> list:  # noqa: ANN001 - pytest's MonkeyPatch
    attempts: list = []
    real_connect = socket.socket.connect

    def connect(sock, address):  # noqa: ANN001, ANN202
        host = address[0] if isinstance(address, tuple) else ""
        if host and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            attempts.append(address)
            raise OSError("test guard: only loopback may be contacted")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts
