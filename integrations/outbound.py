"""Where trackers may reach: the address deny list and the TensorBoard log roots (issue 12, item 11).

Every address a tracker host resolves to is checked before a request and at each redirect, and
the connection goes to one of the addresses checked (integrations/pinned.py), not to a second
lookup of the name:
- always refused: link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, AWS
  fd00:ec2::254, Alibaba 100.100.100.200, ...), "this network" and multicast;
- in multi-workspace (OAuth) installs also loopback and private ranges, unless
  READYBOT_TRACKER_ALLOW names the CIDR or host name: a user of one workspace must not make the
  bot read services on its own network. A single-team install may reach them by default (a
  self-hosted MLflow on the office network is the usual case).
Host names written as one number (http://2852039166/, http://0xa9fea9fe/, octal parts) are read
as addresses the way the C resolver reads them, so they are checked like the dotted form.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from integrations.errors import TrackerError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list]

ALWAYS_DENIED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",  # IPv4 link-local, where the AWS/GCP/Azure/OpenStack metadata services live
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure wire server
        "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the local host
        "::/128",
        "224.0.0.0/4",  # multicast
        "ff00::/8",
        "255.255.255.255/32",
    )
)
PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8", "::1/128",  # loopback
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",  # private networks
        "100.64.0.0/10",  # carrier-grade NAT, used inside clouds
        "198.18.0.0/15",  # benchmarking, sometimes routed internally
    )
)  # fmt: skip

# Never a TensorBoard log root, whatever READYBOT_TENSORBOARD_ROOTS says.
SYSTEM_TREES = ("/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/run", "/var/run", "/usr", "/bin", "/sbin", "/lib")


@dataclass(frozen=True)
class OutboundPolicy:
    """private_ok: loopback and private ranges may be reached (single-team installs).
    allow: CIDRs and host names admitted anyway. tensorboard_roots: folders log roots must be
    under; empty means any folder outside SYSTEM_TREES when private_ok, none otherwise."""

    private_ok: bool = True
    allow: tuple[str, ...] = ()
    tensorboard_roots: tuple[str, ...] = ()

    @classmethod
    def for_install(cls, multi_workspace: bool, allow: Sequence[str] = (), roots: Sequence[str] = ()) -> OutboundPolicy:
        return cls(private_ok=not multi_workspace, allow=tuple(allow), tensorboard_roots=tuple(roots))


DEFAULT = OutboundPolicy()


def literal_address(host: str) -> Address | None:
    """`host` as an IP address if it is one in any form inet_aton accepts (decimal, 0x hex,
    0-octal, 1 to 4 parts), or an IPv6 literal; None for a host name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    try:
        numbers = [int(p, 16) if p.lower().startswith("0x") else int(p, 8) if p.startswith("0") and p != "0" else int(p, 10)
                   for p in parts]
    except ValueError:
        return None
    # The last part fills the remaining bytes: a.b.c.d, a.b.(16 bits), a.(24 bits), (32 bits).
    limits = [255] * (len(parts) - 1) + [2 ** (8 * (5 - len(parts))) - 1]
    if any(n < 0 or n > limit for n, limit in zip(numbers, limits, strict=True)):
        return None
    value = 0
    for n in numbers[:-1]:
        value = value * 256 + n
    value = (value << (8 * (5 - len(parts)))) + numbers[-1]
    return ipaddress.IPv4Address(value)


def refusal(address: Address, policy: OutboundPolicy = DEFAULT, host: str = "") -> str | None:
    """Why `address` (reached for `host`) may not be reached, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    if any(address in net for net in ALWAYS_DENIED):
        return f"{address} is a link-local or cloud metadata address, which trackers may never use"
    if policy.private_ok or _admitted(address, host, policy.allow):
        return None
    if any(address in net for net in PRIVATE) or address.is_private or address.is_loopback:
        return (f"{address} is a loopback or private address; a multi-workspace install reaches it only "
                "if READYBOT_TRACKER_ALLOW admits it")
    return None


def check_url(url: str, policy: OutboundPolicy = DEFAULT, resolve: Resolver = socket.getaddrinfo) -> list[Address]:
    """The addresses the URL's host resolves to, once every one of them is checked;
    TrackerError(permanent) if any may not be reached."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise TrackerError("the tracker URL is not valid", permanent=True) from None
    if not host:
        raise TrackerError("the tracker URL has no host", permanent=True)
    found = addresses(host, port or (443 if parts.scheme == "https" else 80), resolve)
    for address in found:
        if reason := refusal(address, policy, host):
            raise TrackerError(f"refused to contact {host}: {reason}", permanent=True)
    return found


def addresses(host: str, port: int, resolve: Resolver = socket.getaddrinfo) -> list[Address]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = resolve(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise TrackerError(f"cannot resolve the tracker host {host}") from None
    if not infos:
        raise TrackerError(f"cannot resolve the tracker host {host}")
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_log_root(root: Path, policy: OutboundPolicy = DEFAULT) -> Path:
    """The log root with symlinks and `..` resolved, if it may be read; else TrackerError(permanent)."""
    real = Path(os.path.realpath(root))
    if real == Path("/") or any(_under(real, Path(tree)) for tree in SYSTEM_TREES):
        raise TrackerError(f"{root} is a system folder, not a TensorBoard log root", permanent=True)
    roots = [Path(os.path.realpath(r)) for r in policy.tensorboard_roots]
    if roots and not any(_under(real, r) for r in roots):
        raise TrackerError(f"{root} is outside the folders READYBOT_TENSORBOARD_ROOTS allows", permanent=True)
    if not roots and not policy.private_ok:
        raise TrackerError("TensorBoard folders need READYBOT_TENSORBOARD_ROOTS on a multi-workspace install",
                           permanent=True)
    return real


def inside_root(folder: Path, root: Path) -> bool:
    """False when a run folder leaves the (resolved) root through a symlink."""
    return _under(Path(os.path.realpath(folder)), root)


def _under(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


def _admitted(address: Address, host: str, allow: Iterable[str]) -> bool:
    for entry in allow:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if host and entry.lower().rstrip(".") == host.lower().rstrip("."):
                return True
    return False
