"""The circle's address book in PostgreSQL: replaced whole by a load, searched by word."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from services.orders.domain.addresses import Building, query_words


class AddressBook:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def replace(self, buildings: list[Building]) -> tuple[int, int]:
        """Put these buildings in place of the whole book; answers (buildings before, after)."""
        was = await self.count()
        await self.conn.execute("DELETE FROM address_book")
        await self.conn.executemany(
            "INSERT INTO address_book (estate_id, building, estate_zh, estate_en, lat, lon, pinyin, initials, "
            "search_text) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
            [
                (b.estate_id, b.building, b.estate_zh, b.estate_en, b.lat, b.lon, b.pinyin, b.initials, b.search_text)
                for b in buildings
            ],
        )
        return was, len(buildings)

    async def count(self) -> int:
        return int(await self.conn.fetchval("SELECT count(*) FROM address_book"))

    async def get(self, estate_id: str, building: str) -> Building | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM address_book WHERE estate_id = $1 AND building = $2", estate_id, building
        )
        return building_of(row) if row else None

    async def search(self, query: str, limit: int) -> list[Building]:
        patterns = [
            "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for w in query_words(query)
        ]
        rows = await self.conn.fetch(
            "SELECT * FROM address_book WHERE search_text LIKE ALL($1::text[]) "
            "ORDER BY estate_zh, length(building), building LIMIT $2",
            patterns,
            limit,
        )
        return [building_of(r) for r in rows]


def building_of(row: Mapping[str, Any]) -> Building:
    return Building(
        estate_id=row["estate_id"],
        estate_zh=row["estate_zh"],
        estate_en=row["estate_en"],
        building=row["building"],
        lat=row["lat"],
        lon=row["lon"],
        pinyin=row["pinyin"],
        initials=row["initials"],
    )
