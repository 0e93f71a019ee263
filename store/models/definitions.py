"""Published cycle definitions: one immutable row per `name@version`.

The registry (`definitions.registry`) is the only writer. A row is never updated except
to deprecate it; cycles pin the exact content (and its hash) they were launched with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utc_now


class DefinitionVersion(Base):
    """One published version of a cycle definition, with its canonical content and hash."""

    __tablename__ = "definition_versions"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    canonical: Mapped[dict[str, Any]]
    source_text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utc_now)
    published_by: Mapped[str | None] = mapped_column(String(200))
    deprecated_at: Mapped[datetime | None]
    deprecation_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def ref(self) -> str:
        """The version's reference, `name@version`."""
        return f"{self.name}@{self.version}"

    @property
    def is_deprecated(self) -> bool:
        return self.deprecated_at is not None

    def __repr__(self) -> str:
        return f"<DefinitionVersion {self.ref} sha256={self.sha256[:12]}>"
