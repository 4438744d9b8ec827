"""The device list's items rendered by the database: each row's JSON made by SQLite's
`json_object` or PostgreSQL's `json_build_object`.

A device page spent most of the API's time on its rows in Python: SQLAlchemy's datetime
and JSON processors, building each item, humanizing its age and encoding it (py-spy,
bench/api_reads.py). The statements below return every item as its JSON text,
as the DeviceItem schema (api/devices/schemas.py) says; tests/api/devices/test_list_json.py
holds both statements against a readable Python rendering, item for item:

- `status` "Ready" when the node is ready, else "NotReady"; `roles` [] when none;
- `age` since the node was created (else the device), in whole s, m, h or d, from the
  microseconds of both times as `api.core.humanize.age` counts them;
- `addresses` only each address's `type` and `address`; `pods_count` 0 when unknown;
- `observed_at` as pydantic writes an aware UTC datetime: fraction only when not zero, "Z".

On SQLite, times are stored as SQLAlchemy's DATETIME writes them ("YYYY-MM-DD
HH:MM:SS.ffffff", UTC) or as SQLite's CURRENT_TIMESTAMP does (no fraction); a time in
another shape (written by hand) goes through SQLite's own reading of it, to the
millisecond.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Integer, String, column, text
from sqlalchemy.sql.selectable import TextualSelect

from store.sqlite_times import MICROSECONDS_GLOB, WHOLE_SECONDS_GLOB


def _iso(column: str) -> str:
    """The stored time as pydantic_core writes an aware UTC datetime."""
    whole = f"substr({column}, 1, 10) || 'T' || substr({column}, 12, 8)"
    return f"""CASE
        WHEN {column} IS NULL THEN NULL
        WHEN {column} GLOB {WHOLE_SECONDS_GLOB} THEN {whole} || 'Z'
        WHEN {column} GLOB {MICROSECONDS_GLOB} THEN
            {whole} || iif(substr({column}, 20) = '.000000', '', substr({column}, 20)) || 'Z'
        ELSE strftime('%Y-%m-%dT%H:%M:%fZ', {column})
    END"""


def _microseconds(value: str) -> str:
    """Microseconds since the epoch of a stored time (or of the :now parameter)."""
    fraction = f"iif({value} GLOB {MICROSECONDS_GLOB}, CAST(substr({value}, 21) AS INTEGER), 0)"
    return f"(unixepoch({value}) * 1000000 + {fraction})"


# Whole seconds from `since` to :now, never below zero, as humanize.age counts them.
_SINCE = "coalesce(node_created_at, created_at)"
_AGE_SECONDS = f"max(0, ({_microseconds(':now')} - {_microseconds(_SINCE)}) / 1000000)"
_AGE = f"""(SELECT CASE
        WHEN seconds IS NULL THEN NULL
        WHEN seconds < 60 THEN seconds || 's'
        WHEN seconds < 3600 THEN (seconds / 60) || 'm'
        WHEN seconds < 86400 THEN (seconds / 3600) || 'h'
        ELSE (seconds / 86400) || 'd'
    END FROM (SELECT {_AGE_SECONDS} AS seconds))"""  # noqa: S608 (constants only)

_ADDRESSES = """iif(json_type(node_addresses) = 'array', (SELECT json_group_array(
        json_object('type', address.value -> 'type', 'address', address.value -> 'address'))
    FROM json_each(node_addresses) AS address), json_array())"""

_ITEM = f"""json_object(
    'node_name', node_name,
    'device_id', device_id,
    'status', iif(node_ready, 'Ready', 'NotReady'),
    'roles', iif(coalesce(json_array_length(node_roles), 0) = 0, json_array(), json(node_roles)),
    'age', {_AGE},
    'version', node_version,
    'pods_count', coalesce(node_pods, 0),
    'addresses', {_ADDRESSES},
    'node_id', node_id,
    'join_status', status,
    'device_type', device_type,
    'location', location,
    'observed_at', {_iso("node_synced_at")}
)"""

# --- PostgreSQL: the same item with json_build_object (keys in the same order) ------

_PG_SINCE = "coalesce(node_created_at, created_at)"
_PG_AGE_SECONDS = (
    f"greatest(0, trunc(extract(epoch FROM (CAST(:now AS timestamptz) - {_PG_SINCE}))))"
)
_PG_AGE = f"""(SELECT CASE
        WHEN seconds IS NULL THEN NULL
        WHEN seconds < 60 THEN seconds || 's'
        WHEN seconds < 3600 THEN div(seconds, 60) || 'm'
        WHEN seconds < 86400 THEN div(seconds, 3600) || 'h'
        ELSE div(seconds, 86400) || 'd'
    END FROM (SELECT CAST({_PG_AGE_SECONDS} AS bigint) AS seconds) AS age)"""  # noqa: S608


def _pg_iso(column: str) -> str:
    # One to_char per time: with the fraction, unless the time is on a whole second.
    utc = f"({column} AT TIME ZONE 'UTC')"
    return f"""CASE WHEN {column} IS NULL THEN NULL
        WHEN date_trunc('second', {column}) = {column}
            THEN to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ELSE to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END"""


_PG_ITEM = f"""json_build_object(
    'node_name', node_name,
    'device_id', device_id,
    'status', CASE WHEN node_ready THEN 'Ready' ELSE 'NotReady' END,
    'roles', CASE WHEN json_typeof(node_roles) = 'array' AND json_array_length(node_roles) > 0
        THEN node_roles ELSE CAST('[]' AS json) END,
    'age', {_PG_AGE},
    'version', node_version,
    'pods_count', coalesce(node_pods, 0),
    'addresses', CASE WHEN json_typeof(node_addresses) = 'array' THEN (SELECT coalesce(
            json_agg(json_build_object(
                'type', entry.value -> 'type', 'address', entry.value -> 'address')),
            CAST('[]' AS json))
        FROM json_array_elements(node_addresses) AS entry(value)) ELSE CAST('[]' AS json) END,
    'node_id', node_id,
    'join_status', status,
    'device_type', device_type,
    'location', location,
    'observed_at', {_pg_iso("node_synced_at")}
)"""  # noqa: S608 (constants only)


# The page's rows are chosen first, then rendered: PostgreSQL computed a select list for
# every row an OFFSET skipped, which made the last of 100 pages six times slower. SQLite
# chooses them by ID from the device_id index alone, which took a quarter off its time
# for a page; on PostgreSQL that form needs a heap fetch per ID and a sort, and was no
# faster.
_SQLITE_PAGE = (
    "FROM devices WHERE id IN "
    "(SELECT id FROM devices ORDER BY device_id LIMIT :limit OFFSET :offset)"
)
_PG_PAGE = "FROM (SELECT * FROM devices ORDER BY device_id LIMIT :limit OFFSET :offset) AS page"


def _statement(item: str, page: str) -> TextualSelect:
    # One item per row of the page in device_id order, the total riding as the second
    # column. Its columns are declared so SQLAlchemy keeps the result's description with
    # the compiled statement instead of building it from the cursor for every page.
    return text(
        f"SELECT CAST({item} AS text) AS item, (SELECT count(*) FROM devices) AS total "  # noqa: S608
        f"{page} ORDER BY device_id"
    ).columns(column("item", String), column("total", Integer))


DEVICE_ITEMS: dict[str, TextualSelect] = {
    "sqlite": _statement(_ITEM, _SQLITE_PAGE),
    "postgresql": _statement(_PG_ITEM, _PG_PAGE),
}

# A page from PostgreSQL comes as one row: its items' JSON joined by commas, how many
# there are, and the total. A hundred rows arrive as socket reads spread over the
# statement's run, a turn of the API's event loop each; one row took 40% off asyncpg's
# time per page (410 to 250 µs). Past the end there is still the one row (no items).
DEVICE_PAGE_POSTGRESQL = text(
    f"SELECT string_agg(CAST({_PG_ITEM} AS text), ',' ORDER BY device_id) AS items, "  # noqa: S608
    f"count(*) AS item_count, (SELECT count(*) FROM devices) AS total {_PG_PAGE}"
).columns(column("items", String), column("item_count", Integer), column("total", Integer))


def now_param(now: datetime, dialect: str) -> datetime | str:
    """`now` for the statement's :now: on SQLite in the stored form."""
    if dialect == "sqlite":  # isoformat: strftime was a tenth of list_page's Python time
        return now.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return now
