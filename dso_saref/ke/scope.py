"""A catalog narrowed to some exchanges: what a deployment registers when it serves and starts only those.

The real Knowledge Engine plans every POST over every KI in the network (TNO/knowledge-engine#696,
docs/ke.md): a deployment registers the exchanges it uses, not a whole role. Pass a :class:`Scope` as
an adapter's catalog and its role registers only those exchanges (and their parts)::

    from dso_saref.ke.adapter import Adapter
    adapter = Adapter(client, "dso", kb_id=kb, catalog=Scope(dso_saref.catalog, {"fault-notification"}))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from dso_saref.catalog import Catalog, Description
from dso_saref.errors import UnknownMessageError

__all__ = ["Scope"]


class Scope(Mapping[str, Description]):
    """``catalog`` with only the ``exchanges`` named (every message without an interaction stays, for
    their counterparts and parts); raises UnknownMessageError for a name the catalog does not have."""

    def __init__(self, catalog: Catalog, exchanges: Iterable[str]) -> None:
        self.catalog = catalog
        self.exchanges = frozenset(exchanges)
        unknown = sorted(n for n in self.exchanges if n not in catalog)
        if unknown:
            raise UnknownMessageError(unknown[0], [])

    def __getitem__(self, name: str) -> Description:
        return self.catalog[name]

    def __iter__(self) -> Iterator[str]:
        return (n for n in self.catalog if self.catalog[n].interaction is None or n in self.exchanges)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def profiles(self, name: str) -> dict[str, Description]:
        """Every pattern profile of message ``name`` (as :meth:`Catalog.profiles`)."""
        return self.catalog.profiles(name)
