"""The `keadm join` line: every value it puts on a shell line is checked as a whole."""

from __future__ import annotations

import pytest

from api.join.keadm import build_join_command, is_valid_host

TOKEN = "a" * 64 + ".eyJh.eyJi.c2ln"
GOOD = {
    "cloudcore_host": "10.0.0.5",
    "cloudcore_port": 10000,
    "node_name": "edge-node-1",
    "token": TOKEN,
}


@pytest.mark.parametrize(
    "host",
    ["10.0.0.5\n", "cloud.example.com\n", "fe80::1%eth0", "fe80::1%x;reboot", "a" * 254, ""],
)
def test_bad_hosts_are_refused(host: str) -> None:
    assert not is_valid_host(host)


@pytest.mark.parametrize("host", ["10.0.0.5", "2001:db8::1", "cloud.example.com", "CloudCore"])
def test_hosts_are_accepted(host: str) -> None:
    assert is_valid_host(host)


@pytest.mark.parametrize(
    "change",
    [
        {"node_name": "edge-node-1\n"},
        {"node_name": "n" * 64},
        {"token": TOKEN + "\n"},
        {"kubeedge_version": "1.18.0\n"},
        {"labels": {"zone\n": "north"}},
        {"labels": {"zone": "north\n"}},
    ],
)
def test_a_value_with_more_than_it_should_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"invalid|join token"):
        build_join_command(**{**GOOD, **change})


def test_the_line_holds_every_value() -> None:
    line = build_join_command(**GOOD, kubeedge_version="v1.18.0", labels={"zone": "north"})
    assert line == (
        "keadm join --cloudcore-ipport=10.0.0.5:10000 --edgenode-name=edge-node-1 "
        f"--token={TOKEN} --kubeedge-version=v1.18.0 --labels=zone=north"
    )
