"""The outbound address classifier and log-root rules as pure functions (issue 12, item 11).
Nothing here opens a socket: resolvers are stubs."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from integrations.base import TrackerError
from integrations.outbound import OutboundPolicy, check_log_root, check_url, literal_address, refusal

SINGLE = OutboundPolicy()
MULTI = OutboundPolicy.for_install(multi_workspace=True)


@pytest.mark.parametrize("host", [
    "169.254.169.254", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "0xa9.0xfe.0xa9.0xfe", "169.254.43518",
    "169.16689662", "[fe80::1]", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254", "0.0.0.0", "0",
])  # fmt: skip
def test_metadata_and_link_local_are_refused_in_every_spelling_and_mode(host):
    address = literal_address(host)
    assert address is not None
    assert refusal(address, SINGLE) and refusal(address, MULTI)
    assert refusal(address, OutboundPolicy.for_install(True, allow=["0.0.0.0/0", "::/0"]))  # never admitted


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f000001", "127.1", "[::1]", "10.1.2.3", "192.168.0.9",
                                  "172.16.5.4", "fd12::1", "100.64.0.1"])
def test_private_and_loopback_only_in_single_team_installs(host):
    address = literal_address(host)
    assert refusal(address, SINGLE) is None
    assert "READYBOT_TRACKER_ALLOW" in refusal(address, MULTI)


def test_the_allow_list_admits_cidrs_and_host_names():
    allow = OutboundPolicy.for_install(True, allow=["10.0.0.0/8", "mlflow.internal"])
    assert refusal(ipaddress.ip_address("10.9.9.9"), allow) is None
    assert refusal(ipaddress.ip_address("192.168.1.1"), allow, host="mlflow.internal") is None
    assert refusal(ipaddress.ip_address("192.168.1.1"), allow, host="other.internal")


def test_public_addresses_pass_and_names_are_not_addresses():
    assert refusal(ipaddress.ip_address("93.184.216.34"), MULTI) is None
    assert literal_address("mlflow.example.com") is None and literal_address("1.2.3.4.5") is None
    assert literal_address("256.1.1.1") is None and literal_address("08.1.1.1") is None


def stub(*answers: str):  # noqa: ANN201
    def resolve(host, port, **kw):  # noqa: ANN001, ANN003, ANN202
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers]

    return resolve


def test_every_resolved_address_is_checked():
    # A name resolving to a public and a metadata address is refused: either may be used.
    with pytest.raises(TrackerError) as caught:
        check_url("http://tracker.example/", SINGLE, resolve=stub("93.184.216.34", "169.254.169.254"))
    assert caught.value.permanent and "169.254.169.254" in str(caught.value)
    check_url("http://tracker.example/", MULTI, resolve=stub("93.184.216.34"))
    with pytest.raises(TrackerError):
        check_url("http://tracker.example/", MULTI, resolve=stub("93.184.216.34", "10.0.0.5"))


def test_a_decimal_host_is_refused_without_resolving():
    def no_resolving(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("resolved")

    for url in ("http://2852039166/", "http://0xa9fea9fe/latest/meta-data", "http://[fd00:ec2::254]/"):
        with pytest.raises(TrackerError):
            check_url(url, SINGLE, resolve=no_resolving)


def test_log_roots_never_system_folders_and_only_under_configured_roots(tmp_path):
    (tmp_path / "logs" / "a").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "logs" / "to-etc").symlink_to("/etc")
    for root in ("/etc", "/proc/self", "/", tmp_path / "logs" / "to-etc", f"{tmp_path}/logs" + "/.." * 20 + "/etc"):
        with pytest.raises(TrackerError) as caught:
            check_log_root(root, SINGLE)
        assert caught.value.permanent
    configured = OutboundPolicy(tensorboard_roots=(str(tmp_path / "logs"),))
    assert check_log_root(tmp_path / "logs" / "a", configured) == (tmp_path / "logs" / "a").resolve()
    with pytest.raises(TrackerError, match="READYBOT_TENSORBOARD_ROOTS"):
        check_log_root(tmp_path / "elsewhere", configured)
    with pytest.raises(TrackerError, match="READYBOT_TENSORBOARD_ROOTS"):
        check_log_root(tmp_path / "logs", MULTI)  # multi-workspace: only configured roots
