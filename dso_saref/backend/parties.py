"""Who the DSO deals with: service providers (known by the knowledge base they speak from) and end users
(each the holder of one client connection).

A request's ``requester`` (the knowledge-base id of the exchange) names the service provider; an unknown
knowledge base is nobody the DSO has an agreement with (spec 3.5, Table 11, "Service provider - DSO
agreement")::

    parties = Parties(storage)
    parties.register_service_provider("SP001", knowledge_base_id="https://sp001.example.org/kb")
    parties.provider_for("https://sp001.example.org/kb").id   # 'SP001'
"""

from __future__ import annotations

from dataclasses import dataclass

from dso_saref.backend.errors import NotFound
from dso_saref.backend.storage import Storage

__all__ = ["EndUser", "Parties", "ServiceProvider"]


@dataclass(frozen=True)
class ServiceProvider:
    """A service provider (HEMS aggregator, flexibility provider, data service provider) with an
    agreement with the DSO."""

    id: str
    knowledge_base_id: str
    name: str = ""


@dataclass(frozen=True)
class EndUser:
    """An end user: the holder of the client connection ``client_id`` (its meter is ``meter_id``)."""

    id: str
    client_id: str
    meter_id: str
    voltage_level: str
    zone_id: str | None
    postal_code: str | None


class Parties:
    """Service providers and end users of one :class:`Storage`."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def register_service_provider(self, provider_id: str, *, knowledge_base_id: str, name: str = "") -> ServiceProvider:
        """Record (or update) a service provider and the knowledge base it speaks from."""
        with self._storage.transaction("register service provider") as db:
            db.execute("INSERT INTO service_providers (id, knowledge_base_id, name) VALUES (?, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET knowledge_base_id = excluded.knowledge_base_id, "
                       "name = excluded.name", (provider_id, knowledge_base_id, name))
        return ServiceProvider(provider_id, knowledge_base_id, name)

    def provider_for(self, knowledge_base_id: str) -> ServiceProvider | None:
        """The service provider speaking from ``knowledge_base_id``, or ``None``."""
        row = self._storage.query_one("SELECT * FROM service_providers WHERE knowledge_base_id = ?",
                                      (knowledge_base_id,))
        return ServiceProvider(row["id"], row["knowledge_base_id"], row["name"]) if row else None

    def provider(self, provider_id: str) -> ServiceProvider:
        """The service provider ``provider_id``; raises :class:`NotFound`."""
        row = self._storage.query_one("SELECT * FROM service_providers WHERE id = ?", (provider_id,))
        if row is None:
            raise NotFound(f"unknown service provider {provider_id!r}")
        return ServiceProvider(row["id"], row["knowledge_base_id"], row["name"])

    def providers(self) -> list[ServiceProvider]:
        """Every service provider, by id."""
        rows = self._storage.query("SELECT * FROM service_providers ORDER BY id")
        return [ServiceProvider(r["id"], r["knowledge_base_id"], r["name"]) for r in rows]

    def register_end_user(self, user_id: str, *, client_id: str) -> None:
        """Record the end user ``user_id`` as the holder of the (already known) client ``client_id``."""
        with self._storage.transaction("register end user") as db:
            db.execute("INSERT INTO end_users (id, client_id) VALUES (?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id", (user_id, client_id))

    def end_user(self, user_id: str) -> EndUser | None:
        """The end user ``user_id`` with its connection, or ``None``."""
        row = self._storage.query_one(
            "SELECT u.id, u.client_id, c.meter_id, c.voltage_level, c.zone_id, c.postal_code "
            "FROM end_users u JOIN clients c ON c.id = u.client_id WHERE u.id = ?", (user_id,))
        if row is None:
            return None
        return EndUser(row["id"], row["client_id"], row["meter_id"], row["voltage_level"], row["zone_id"],
                       row["postal_code"])
