"""Which webhook URLs are refused, before and at delivery."""

from __future__ import annotations

import pytest

from adapters.webhooks.targets import TargetRefused, checked_addresses, parse_url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http:///no-host",
        "http://example.com:0/",
        "http://exa mple.com/",
        "http://example.com/\nx",
        "http://example.com:99999/",
    ],
)
def test_only_well_formed_http_urls(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/",
        "http://[::1]/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "https://224.0.0.1/",
    ],
)
async def test_private_targets_refused_unless_allowed(url: str) -> None:
    with pytest.raises(TargetRefused, match="ALLOW_PRIVATE"):
        await checked_addresses(url, allow_private=False)


async def test_allowed_private_target_resolves_to_what_is_connected() -> None:
    results = await checked_addresses("http://127.0.0.1:8080/hook", allow_private=True)
    assert [(r["host"], r["port"]) for r in results] == [("127.0.0.1", 8080)]


async def test_public_literal_accepted() -> None:
    results = await checked_addresses("https://93.184.215.14/hook", allow_private=False)
    assert results[0]["port"] == 443
