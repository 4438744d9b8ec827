"""Build the `keadm join` line an operator runs on the edge device.

Pure and shared: the API builds the line once it has unsealed the token. Every value is
validated before it lands in a shell command (KubeEdge had shell-injection CVEs in this
area), and each argument is quoted on top of that.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping

from workflows.contracts.common import NODE_NAME_MAX, is_dns1123_subdomain

# Always .fullmatch: with .match, `$` lets a trailing newline through.
_TOKEN = re.compile(r"[0-9a-f]{64}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_VERSION = re.compile(r"v?\d+\.\d+\.\d+")
_LABEL_KEY = re.compile(r"([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def is_valid_host(host: str) -> bool:
    """An IP address or a DNS name: nothing a shell could read as more than a word."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return is_dns1123_subdomain(host.lower())
    # A zone ("fe80::1%eth0") takes any text and names an interface of this machine,
    # which means nothing to a device elsewhere.
    return not (isinstance(address, ipaddress.IPv6Address) and address.scope_id)


def build_join_command(
    *,
    cloudcore_host: str,
    cloudcore_port: int,
    node_name: str,
    token: str,
    kubeedge_version: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    if not is_valid_host(cloudcore_host):
        raise ValueError(f"invalid CloudCore host {cloudcore_host!r}")
    if not 0 < cloudcore_port < 65536:
        raise ValueError(f"invalid CloudCore port {cloudcore_port}")
    if len(node_name) > NODE_NAME_MAX or not is_dns1123_subdomain(node_name):
        raise ValueError(f"invalid node name {node_name!r}")
    if not _TOKEN.fullmatch(token):
        raise ValueError("join token is not in KubeEdge's <ca-hash>.<jwt> form")
    host = f"[{cloudcore_host}]" if ":" in cloudcore_host else cloudcore_host
    args = [
        "keadm",
        "join",
        f"--cloudcore-ipport={host}:{cloudcore_port}",
        f"--edgenode-name={node_name}",
        f"--token={token}",
    ]
    if kubeedge_version:
        if not _VERSION.fullmatch(kubeedge_version):
            raise ValueError(f"invalid KubeEdge version {kubeedge_version!r}")
        args.append(f"--kubeedge-version={kubeedge_version}")
    if labels:
        for key, value in labels.items():
            if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
                raise ValueError(f"invalid node label {key}={value}")
        args.append("--labels=" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())))
    return shlex.join(args)
