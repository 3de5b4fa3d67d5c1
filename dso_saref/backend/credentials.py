"""The parties of the DSO's REST API and their API keys (issue 12), issued by the operator.

A party (a service provider, a data service provider, a third party or an aggregator) gets an API key
that it sends as a bearer token. A key reads ``dso_<id>_<secret>``: the id names the key (in listings,
in the registry of operations), the secret is shown once, when the key is issued; the database keeps
only the SHA-256 of the secret (the secret is 256 random bits, so a fast hash is enough), compared in
constant time. A key may expire; revoking it (or its party's every key) takes effect at the next
request::

    credentials = Credentials(storage)
    issued = credentials.add_party("SP001", "service-provider", now=now)   # SP001 is a service provider
    print(issued.token)                                                       # the only time it is shown
    caller = credentials.authenticate(issued.token, now=now)                 # Caller(party=..., key_id=...)
    credentials.revoke("SP001", now=now)

A service or data service provider party *is* the service provider of the same id (its consents, its
offers, its HEMS); the backend knows it by the knowledge base it speaks from, which is the requester
of its REST exchanges too, so that what it does over REST and over the Knowledge Engine is one party's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from dso_saref.backend.errors import BackendError, NotFound, StateError
from dso_saref.backend.storage import Row, Storage, from_db_time, to_db_time

__all__ = ["PARTY_ROLES", "PROVIDER_ROLES", "ApiKey", "Caller", "Credentials", "IssuedKey", "Party", "Unauthenticated"]

#: The roles a party of the REST API may have.
PARTY_ROLES = ("service-provider", "data-service-provider", "third-party", "aggregator")
#: The roles whose party is one of the DSO's service providers.
PROVIDER_ROLES = ("service-provider", "data-service-provider")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TOKEN = re.compile(r"dso_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


class Unauthenticated(BackendError):
    """A request whose credential does not authenticate a party: ``reason`` says why (missing,
    malformed, unknown, revoked, expired) for the registry of operations; ``key_id`` names the key
    when the token named one."""

    def __init__(self, reason: str, key_id: str | None = None) -> None:
        self.reason = reason
        self.key_id = key_id
        super().__init__(reason)


@dataclass(frozen=True)
class Party:
    """A party of the REST API: its ``name``, ``role``, the service provider it is (provider roles) and
    the knowledge base it speaks from (for a service provider, the provider's)."""

    name: str
    role: str
    provider_id: str | None
    knowledge_base_id: str | None
    created_at: datetime

    @property
    def requester(self) -> str:
        """Who the backend sees asking: the party's knowledge base, else its name."""
        return self.knowledge_base_id or self.name


@dataclass(frozen=True)
class ApiKey:
    """An API key as listed (never its secret)."""

    id: str
    party: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """``active``, ``revoked`` or ``expired`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class IssuedKey:
    """A key just issued: ``token`` is what the party sends (``Authorization: Bearer <token>``)."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class Caller:
    """An authenticated request's party and the key it used."""

    party: Party
    key_id: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _time(value: object) -> datetime | None:
    return from_db_time(value) if value is not None else None  # type: ignore[arg-type]


class Credentials:
    """Parties and API keys of one :class:`Storage`."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    # -- the operator's side -------------------------------------------------------------------------

    def add_party(self, name: str, role: str, *, now: datetime, knowledge_base_id: str | None = None,
                  lifetime: timedelta | None = None) -> IssuedKey:
        """Add a party and issue its first key (valid for ``lifetime``, or until revoked). A provider
        role's party is the service provider ``name``: it must exist, or ``knowledge_base_id`` registers
        it. Raises :class:`ValueError` for a bad name or role, :class:`StateError` for a party that
        exists, :class:`NotFound` for an unknown service provider."""
        if not _NAME.fullmatch(name or ""):
            raise ValueError(f"party name {name!r}: 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                             "letter or digit")
        if role not in PARTY_ROLES:
            raise ValueError(f"role {role!r}: one of {', '.join(PARTY_ROLES)}")
        if knowledge_base_id is not None and not knowledge_base_id.startswith(("http://", "https://")):
            raise ValueError(f"a knowledge base id is an http(s) IRI, got {knowledge_base_id!r}")
        with self._storage.transaction("add API party") as db:
            db.lock("api party", name)
            if db.execute("SELECT 1 FROM api_parties WHERE name = ?", (name,)).fetchone():
                raise StateError(f"party {name!r} exists: issue it another key or revoke its keys")
            provider_id = None
            if role in PROVIDER_ROLES:
                provider = db.execute("SELECT knowledge_base_id FROM service_providers WHERE id = ?",
                                      (name,)).fetchone()
                if provider is None and knowledge_base_id is None:
                    raise NotFound(f"no service provider {name!r}: give its knowledge base id to register it")
                if provider is None:
                    db.execute("INSERT INTO service_providers (id, knowledge_base_id, name) VALUES (?, ?, ?)",
                               (name, knowledge_base_id, name))
                elif knowledge_base_id is not None and knowledge_base_id != provider["knowledge_base_id"]:
                    raise StateError(f"service provider {name!r} speaks from {provider['knowledge_base_id']}, "
                                     f"not {knowledge_base_id}")
                provider_id, knowledge_base_id = name, None  # the provider's own, read at each request
            db.execute("INSERT INTO api_parties (name, role, provider_id, knowledge_base_id, created_at) "
                       "VALUES (?, ?, ?, ?, ?)", (name, role, provider_id, knowledge_base_id, to_db_time(now)))
            return self._issue(db, name, now, lifetime)

    def issue_key(self, name: str, *, now: datetime, lifetime: timedelta | None = None) -> IssuedKey:
        """Another key for party ``name`` (key rotation); raises :class:`NotFound`."""
        with self._storage.transaction("issue API key") as db:
            if not db.execute("SELECT 1 FROM api_parties WHERE name = ?", (name,)).fetchone():
                raise NotFound(f"unknown party {name!r}")
            return self._issue(db, name, now, lifetime)

    def _issue(self, db, name: str, now: datetime, lifetime: timedelta | None) -> IssuedKey:
        if lifetime is not None and lifetime <= timedelta(0):
            raise ValueError("a key's lifetime must be positive")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        expires = now + lifetime if lifetime is not None else None
        db.execute("INSERT INTO api_keys (id, party, digest, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                   (key_id, name, _digest(secret), to_db_time(now), to_db_time(expires) if expires else None))
        return IssuedKey(ApiKey(key_id, name, now, expires, None), f"dso_{key_id}_{secret}")

    def revoke(self, name: str, *, now: datetime, key_id: str | None = None) -> list[ApiKey]:
        """Revoke party ``name``'s keys (or only ``key_id``) that are not revoked yet; returns them.
        Raises :class:`NotFound` for an unknown party or key."""
        with self._storage.transaction("revoke API keys") as db:
            if not db.execute("SELECT 1 FROM api_parties WHERE name = ?", (name,)).fetchone():
                raise NotFound(f"unknown party {name!r}")
            if key_id is not None and not db.execute("SELECT 1 FROM api_keys WHERE id = ? AND party = ?",
                                                     (key_id, name)).fetchone():
                raise NotFound(f"party {name!r} has no key {key_id!r}")
            clause, params = ("AND id = ?", (key_id,)) if key_id is not None else ("", ())
            ids = [r["id"] for r in db.execute(f"SELECT id FROM api_keys WHERE party = ? AND revoked_at IS NULL "
                                               f"{clause} ORDER BY id", (name, *params)).fetchall()]
            for revoked in ids:
                db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (to_db_time(now), revoked))
        return [k for k in self.keys(name) if k.id in ids]

    # -- reading ----------------------------------------------------------------------------------------

    def party(self, name: str) -> Party:
        """The party ``name``; raises :class:`NotFound`."""
        rows = self._storage.query(f"{_PARTIES} WHERE a.name = ?", (name,))
        if not rows:
            raise NotFound(f"unknown party {name!r}")
        return _party(rows[0])

    def parties(self) -> list[Party]:
        """Every party, by name."""
        return [_party(r) for r in self._storage.query(f"{_PARTIES} ORDER BY a.name")]

    def keys(self, name: str | None = None) -> list[ApiKey]:
        """The keys (of one party), oldest first."""
        where, params = ("WHERE party = ?", (name,)) if name is not None else ("", ())
        rows = self._storage.query(f"SELECT * FROM api_keys {where} ORDER BY created_at, id", params)
        return [ApiKey(r["id"], r["party"], from_db_time(r["created_at"]), _time(r["expires_at"]),
                       _time(r["revoked_at"])) for r in rows]

    # -- at each request ----------------------------------------------------------------------------------

    def authenticate(self, token: str | None, *, now: datetime) -> Caller:
        """The caller a bearer token authenticates at ``now``; raises :class:`Unauthenticated` saying
        why not (missing, malformed, unknown, revoked or expired key)."""
        if not token:
            raise Unauthenticated("no API key")
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise Unauthenticated("malformed API key")
        key_id, secret = match.groups()
        rows = self._storage.query(f"SELECT k.digest, k.expires_at, k.revoked_at, {_PARTY_COLUMNS} FROM api_keys k "
                                   "JOIN api_parties a ON a.name = k.party LEFT JOIN service_providers p "
                                   "ON p.id = a.provider_id WHERE k.id = ?", (key_id,))
        # the digest is compared even for an unknown id, so that timing does not tell ids apart
        stored = rows[0]["digest"] if rows else "0" * 64
        if not hmac.compare_digest(_digest(secret), stored) or not rows:
            raise Unauthenticated("unknown API key", key_id if rows else None)
        row = rows[0]
        if row["revoked_at"] is not None:
            raise Unauthenticated("revoked API key", key_id)
        if row["expires_at"] is not None and now >= from_db_time(row["expires_at"]):
            raise Unauthenticated("expired API key", key_id)
        return Caller(_party(row), key_id)


_PARTY_COLUMNS = ("a.name, a.role, a.provider_id, COALESCE(p.knowledge_base_id, a.knowledge_base_id) AS kb, "
                  "a.created_at")
_PARTIES = (f"SELECT {_PARTY_COLUMNS} FROM api_parties a LEFT JOIN service_providers p ON p.id = a.provider_id")


def _party(row: Row) -> Party:
    return Party(row["name"], row["role"], row["provider_id"], row["kb"], from_db_time(row["created_at"]))
