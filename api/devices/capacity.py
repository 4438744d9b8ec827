"""The device cap (`max_devices` in PUT /api/kubeedge/config), checked before a device
is added through either contract.

The check runs when the request arrives, against the stored configuration, so a changed
cap applies to the next request. It is a soft cap: two requests racing for the last slot
may both get in, which is why it is documented as a limit on growth, not an invariant.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import ApiError
from store.devices import inventory as devices
from store.runtime_config import RuntimeConfig


async def check_capacity(
    session: AsyncSession, *, config: RuntimeConfig, device_id: str | None
) -> None:
    """409 when one more device would exceed the cap; a device already listed is fine."""
    if config.max_devices is None:
        return
    if device_id is not None and await devices.get_device(session, device_id=device_id):
        return  # a repeated join or registration adds nothing
    total = await devices.count_devices(session)
    if total >= config.max_devices:
        raise ApiError(
            409,
            f"The inventory holds {total} devices, the configured maximum is "
            f"{config.max_devices}: remove a device or raise max_devices "
            "(PUT /api/kubeedge/config)",
            details={"max_devices": config.max_devices, "devices": total},
        )
