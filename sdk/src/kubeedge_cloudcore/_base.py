"""The base of every generated model: typed attributes, and the document's dict access.

The CloudCore document's examples read answers as dicts (`result["join_command"]`), so
a model also answers `[]`, `get` and `in` by wire name (alias). Fields the OpenAPI does
not list are kept (`extra="allow"`): a newer server never breaks an older SDK.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """The answer as the server sent it (wire names, JSON types)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def __getitem__(self, key: str) -> Any:
        data = self.to_dict()
        return data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def keys(self) -> list[str]:
        return list(self.to_dict())
