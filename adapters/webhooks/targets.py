"""Which URLs a webhook may call, checked when it is saved and again at every attempt.

Only http(s). A host that resolves to any address that is not globally routable
(loopback, RFC 1918, link-local with the cloud metadata services at 169.254.169.254,
shared and unique-local ranges such as 100.100.100.200 and fd00:ec2::254, multicast,
reserved) is refused unless the installation allows private targets. The attempt
connects only to the addresses it checked (adapters.webhooks.pinned), so a name that
resolves elsewhere between the check and the connection (DNS rebinding) changes nothing.

aiohttp is imported here for its types only: the API checks URLs through this module
and never sends, and importing aiohttp cost it about 8 MB of resident memory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from workflows.contracts.common import has_control_characters

if TYPE_CHECKING:
    from aiohttp.abc import ResolveResult

MAX_URL_CHARS = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The URL is not one a webhook may call; the message says why (no secrets in it)."""


def parse_url(url: str) -> SplitResult:
    """The URL's parts if its form is acceptable, else TargetRefused."""
    if len(url) > MAX_URL_CHARS or has_control_characters(url) or " " in url:
        raise TargetRefused(f"must be at most {MAX_URL_CHARS} characters without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise TargetRefused(f"is not a valid URL: {err}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("must be an http:// or https:// URL")
    if not parts.hostname:
        raise TargetRefused("must name a host")
    if port == 0:
        raise TargetRefused("must not name port 0")
    return parts


def forbidden(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[ResolveResult]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise TargetRefused(f"host {host!r} does not resolve ({err.strerror or err})") from None
    results: list[ResolveResult] = []
    for family, _, proto, _, sockaddr in infos:
        results.append(
            {
                "hostname": host,
                "host": str(sockaddr[0]),
                "port": port,
                "family": family,
                "proto": proto,
                "flags": socket.AI_NUMERICHOST,
            }
        )
    if not results:
        raise TargetRefused(f"host {host!r} does not resolve")
    return results


async def checked_addresses(url: str, *, allow_private: bool) -> list[ResolveResult]:
    """The addresses an attempt may connect to (TargetRefused when none may be)."""
    parts = parse_url(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ip = literal(host)
    if ip is not None:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        pinned: ResolveResult = {
            "hostname": host,
            "host": str(ip),
            "port": port,
            "family": family,
            "proto": 0,
            "flags": 0,
        }
        results = [pinned]
    else:
        results = await resolve(host, port)
    if not allow_private:
        for result in results:
            if forbidden(ipaddress.ip_address(result["host"])):
                raise TargetRefused(
                    f"{host} resolves to {result['host']}, a loopback, private, link-local or "
                    "metadata address (EDGEWRIGHT_WEBHOOK_ALLOW_PRIVATE=true allows it)"
                )
    return results
