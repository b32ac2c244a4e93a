"""Connect to the address the outbound check passed, not to a second lookup of the name.

requests (through urllib3) resolves a host again when it connects. A name with a short TTL can
answer a public address to the check and 169.254.169.254 to the connect (DNS rebinding), so a
check followed by an ordinary request guarantees nothing. This adapter checks the URL of every
request it sends, each redirect hop included (requests sends every hop through its adapter),
and opens the connection pool on a checked address itself. The Host header, TLS SNI and the
certificate's host name check keep the name from the URL (urllib3's `server_hostname` and
`assert_hostname`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError

from integrations.outbound import Address


class PinnedAdapter(HTTPAdapter):
    """`vet(url)` returns the URL host's addresses once every one is allowed, else raises."""

    def __init__(self, vet: Callable[[str], list[Address]]):
        super().__init__()
        self.vet = vet

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        addresses = self.vet(request.url or "")
        # The pool's host is an address now, so the name has to be sent explicitly.
        request.headers["Host"] = urlsplit(request.url).netloc.rpartition("@")[2]
        for tried, address in enumerate(addresses, start=1):
            request.pinned_address = address  # read by build_connection_pool_key_attributes
            try:
                return super().send(request, *args, **kwargs)
            except requests.ConnectionError as exc:
                # Refused or timed out while connecting: try the next address, as urllib3 would.
                if tried == len(addresses) or not _nothing_sent(exc):
                    raise
        raise AssertionError("the check returns at least one address")

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = pool_kwargs["assert_hostname"] = host_params["host"]
        host_params["host"] = str(request.pinned_address)
        return host_params, pool_kwargs


def _nothing_sent(exc: requests.ConnectionError) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ConnectTimeoutError)  # also NewConnectionError (connection refused)
