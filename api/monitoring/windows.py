"""Which timeframe and resolution a metrics query asks for, checked against retention."""

from __future__ import annotations

from dataclasses import dataclass

from api.core.errors import ApiError
from store.monitoring.rollups import floor_to
from workflows.contracts.monitoring import RESOLUTIONS, TIMEFRAMES, MetricsRetention

DEFAULT_TIMEFRAME = "1h"
DEFAULT_RESOLUTION = "5m"


@dataclass(frozen=True, kw_only=True)
class Window:
    timeframe: str
    resolution: str
    width: int  # seconds per bucket
    start: int  # epoch seconds, the first bucket's start


def window(
    *, timeframe: str | None, resolution: str | None, retention: MetricsRetention, now: int
) -> Window:
    """The query's window, or a 400 that names the allowed values and combinations."""
    timeframe = DEFAULT_TIMEFRAME if timeframe is None else timeframe
    resolution = DEFAULT_RESOLUTION if resolution is None else resolution
    allowed = retention.allowed()
    details: dict[str, object] = {
        "timeframe": f"one of {', '.join(TIMEFRAMES)}",
        "resolution": f"one of {', '.join(RESOLUTIONS)}",
        "allowed": allowed,
    }
    if timeframe not in TIMEFRAMES or resolution not in RESOLUTIONS:
        bad = "timeframe" if timeframe not in TIMEFRAMES else "resolution"
        raise ApiError(
            400,
            f"Unknown {bad}: timeframe is one of {', '.join(TIMEFRAMES)}, "
            f"resolution one of {', '.join(RESOLUTIONS)}",
            details=details,
        )
    if not retention.allows(timeframe=timeframe, resolution=resolution):
        raise ApiError(
            400,
            f"{resolution} data is not kept for {timeframe}: {resolution} answers "
            f"{', '.join(allowed[resolution]) or 'no timeframe'}",
            details=details,
        )
    width = RESOLUTIONS[resolution]
    start = floor_to(now - TIMEFRAMES[timeframe], width) + width
    return Window(timeframe=timeframe, resolution=resolution, width=width, start=start)
