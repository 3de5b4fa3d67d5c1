"""One configuration for every command: command-line flags, then environment variables, then a TOML
file, then defaults; each value knows where it came from.

The file is ``--config FILE``, else ``$DSO_SAREF_CONFIG``, else ``config.toml`` in the user's
configuration directory (``$XDG_CONFIG_HOME/dso-saref/``, by default ``~/.config/dso-saref/``);
keys are the names of :data:`KEYS`, environment variables the same in capitals after ``DSO_SAREF_``::

    # ~/.config/dso-saref/config.toml
    ke_url = "https://ke.example.org/rest"
    db = "/var/lib/dso/dso.sqlite"
    timezone = "Europe/Lisbon"
    [ke_headers]
    X-Api-Key = "..."

    >>> config = load_config(env={"DSO_SAREF_DB": "dso.sqlite"}, flags={"timezone": "Europe/Lisbon"})
    >>> config.db, config.sources["db"], config.sources["timezone"]
    ('dso.sqlite', 'env DSO_SAREF_DB', 'flag --timezone')

Secrets (``ke_token``, ``ke_password``, the values of ``ke_headers``) are never shown: ``repr`` leaves
them out and :meth:`Config.shown` masks them. Keep them in the environment or in a file only you
can read.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dso_saref.errors import DsoSarefError
from dso_saref.payloads import Limits
from dso_saref.terms import DEFAULT_BASE, Settings, SettingsError, time_zone

if TYPE_CHECKING:
    from dso_saref.ke.credentials import Credentials

__all__ = ["CONFIG_ENV", "DEFAULT_KE_URL", "KEYS", "LOG_LEVELS", "Config", "ConfigError", "Key", "default_path",
           "load_config", "parse_size"]

#: The Knowledge Engine the commands talk to unless configured otherwise (loopback only).
DEFAULT_KE_URL = "http://127.0.0.1:8280/rest"

#: Requests one REST process works on at once; the others wait their turn. With anyio's default of
#: 40 threads, 50 connections on 2 workers had a POST p99 of 127-159 ms (threads taking the GIL and the
#: database connection out of turn); with 8, 75-112 ms (median 82) at more requests/s (docs/performance.md).
DEFAULT_REST_THREADS = 8
#: The environment variable naming the configuration file.
CONFIG_ENV = "DSO_SAREF_CONFIG"
#: Levels of ``log_level``.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_MASK = "********"


class ConfigError(DsoSarefError, ValueError):
    """A configuration value that cannot be used: ``key`` names it (``None``: the file as a whole),
    ``source`` says where it came from (``flag --db``, ``env DSO_SAREF_DB``, ``file PATH``)."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        self.key = key
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


# -- what each key accepts ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    if any(c in value for c in "\r\n\0"):
        raise ValueError("must be one line of text")
    return value


def _http_url(value: Any) -> str:
    value = _text(value)
    if not re.fullmatch(r"https?://[^\s/@]+(/\S*)?", value):
        if re.match(r"https?://[^/]*@", value):
            raise ValueError("must not carry credentials (set ke_username and ke_password, or ke_token)")
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _http_iri(value: Any) -> str:
    value = _text(value)
    if not re.fullmatch(r"https?://\S+", value):
        raise ValueError(f"must be an http(s) IRI, got {value!r}")
    return value


def _base(value: Any) -> str:
    try:
        return Settings(base=_text(value)).base
    except SettingsError as exc:
        raise ValueError(str(exc).removeprefix(f"base {value!r} ")) from None


def _timezone(value: Any) -> str:
    try:
        time_zone(_text(value))
    except SettingsError as exc:
        raise ValueError(str(exc)) from None
    return value


def _log_level(value: Any) -> str:
    level = _text(value).upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def _path(value: Any) -> str:
    return str(Path(_text(value)).expanduser())


def _profiles(value: Any) -> tuple[str, ...]:
    names = [v.strip() for v in _text(value).split(",")] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError("must be profile names, comma-separated (saref,interconnect)")
    if any(not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names):
        raise ValueError(f"profile names are lower-case letters, digits and '-', got {value!r}")
    return tuple(dict.fromkeys(names))


_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B)?\s*", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def parse_size(value: Any) -> int:
    """A size in bytes from an integer or a text such as ``"256 MiB"``, ``"50MB"`` or ``"1048576"``;
    raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"must be a size such as 256MiB, got {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"must be a size such as 256MiB or 50MB, got {value!r}")
        size = int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])
    if size < 1:
        raise ValueError("must be at least 1 byte")
    return size


def _headers(value: Any) -> dict[str, str]:
    if isinstance(value, str):  # from the environment: a JSON object
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError('must be a JSON object of header names and values, e.g. {"X-Api-Key": "..."}') \
                from None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError("must be a table of header names and text values")
    return dict(value)


@dataclass(frozen=True)
class Key:
    """One configuration key: its ``name`` (in the file), what it is for, its default, how a given
    value is read (``parse`` raises ValueError), and whether it is a ``secret``."""

    name: str
    help: str
    default: Any
    parse: Callable[[Any], Any]
    secret: bool = False

    @property
    def env(self) -> str:
        """Its environment variable, ``DSO_SAREF_`` + the name in capitals."""
        return "DSO_SAREF_" + self.name.upper()

    @property
    def flag(self) -> str:
        """Its command-line flag, ``--`` + the name with dashes."""
        return "--" + self.name.replace("_", "-")


#: Every configuration key, in the order ``dso-saref config show`` lists them.
KEYS: tuple[Key, ...] = (
    Key("ke_url", "Knowledge Engine REST base URL.", DEFAULT_KE_URL, _http_url),
    Key("ke_token", "Bearer token sent to the Knowledge Engine (its reverse proxy).", None, _text, secret=True),
    Key("ke_username", "Basic-auth user name for the Knowledge Engine (its reverse proxy).", None, _text),
    Key("ke_password", "Basic-auth password for the Knowledge Engine.", None, _text, secret=True),
    Key("ke_headers", "Extra HTTP headers sent to the Knowledge Engine (a table; JSON in the environment).",
        {}, _headers, secret=True),
    Key("kb_id", "Knowledge base id of serve and ke register (an http(s) IRI).", None, _http_iri),
    Key("profile", "Pattern profiles the knowledge base of serve and ke register speaks, comma-separated "
        "(saref,interconnect; docs/interop.md).", ("saref",), _profiles),
    Key("patterns", "A folder of your own pattern profiles (NAME@PROFILE.toml, docs/interop.md).", None, _path),
    Key("db", "The DSO database: a sqlite file, :memory:, or postgresql://USER@HOST/DB.", None, _text),
    Key("base", "Base IRI under which identifiers are minted.", DEFAULT_BASE, _base),
    Key("timezone", "Time zone of timestamps written without an offset (an IANA name).", "UTC", _timezone),
    Key("max_size", "Largest input file read, in bytes or with a unit (256MiB).", Limits().size, parse_size),
    Key("log_level", f"Log level of long-running commands ({', '.join(LOG_LEVELS)}).", "INFO", _log_level),
    Key("log_file", "Write logs to this file instead of standard error.", None, _path),
)
_BY_NAME = {key.name: key for key in KEYS}


@dataclass(frozen=True)
class Config:
    """The effective configuration; ``sources`` says where each value came from (``default``,
    ``file PATH``, ``env NAME``, ``flag --name``) and ``file`` which file was read, if any."""

    ke_url: str = DEFAULT_KE_URL
    ke_token: str | None = field(default=None, repr=False)
    ke_username: str | None = None
    ke_password: str | None = field(default=None, repr=False)
    ke_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    kb_id: str | None = None
    profile: tuple[str, ...] = ("saref",)
    patterns: str | None = None
    db: str | None = None
    base: str = DEFAULT_BASE
    timezone: str = "UTC"
    max_size: int = Limits().size or 0
    log_level: str = "INFO"
    log_file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    file: Path | None = None

    def settings(self, *, strict: bool = True) -> Settings:
        """The mapping settings of ``base`` and ``timezone``."""
        return Settings.of(base=self.base, timezone=self.timezone, strict=strict)

    def credentials(self) -> Credentials | None:
        """What the Knowledge Engine client sends to a reverse proxy (``None`` when nothing is
        configured); raises :class:`ConfigError` for credentials that cannot go together."""
        if self.ke_token is None and self.ke_username is None and self.ke_password is None and not self.ke_headers:
            return None
        from dso_saref.ke.credentials import Credentials

        try:
            return Credentials(headers=dict(self.ke_headers), token=self.ke_token, username=self.ke_username,
                               password=self.ke_password)
        except ValueError as exc:
            raise ConfigError(str(exc), key="ke_headers") from None

    def source(self, name: str) -> str:
        """Where the value of key ``name`` came from."""
        return self.sources.get(name, "default")

    def shown(self) -> list[tuple[str, str, str]]:
        """Every key as ``(name, value, source)`` for people to read: secrets masked, unset ``-``."""
        rows = []
        for key in KEYS:
            value = getattr(self, key.name)
            if key.name == "ke_headers":
                text = ", ".join(f"{name}: {_MASK}" for name in sorted(value)) or "-"
            elif value is None:
                text = "-"
            elif isinstance(value, tuple):
                text = ",".join(value)
            elif key.secret:
                text = _MASK
            else:
                text = str(value)
            rows.append((key.name, text, self.source(key.name)))
        return rows


def default_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the configuration file is looked for when none is named: ``$XDG_CONFIG_HOME`` (an
    absolute path) or ``~/.config``, then ``dso-saref/config.toml``."""
    env = os.environ if env is None else env
    root = env.get("XDG_CONFIG_HOME", "")
    base = Path(root) if root and Path(root).is_absolute() else Path(env.get("HOME") or Path.home()) / ".config"
    return base / "dso-saref" / "config.toml"


def load_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                flags: Mapping[str, Any] | None = None) -> Config:
    """The effective configuration: ``flags`` (values not ``None``) over ``env`` (default
    ``os.environ``; empty variables count as unset) over the file (``path``, else ``$DSO_SAREF_CONFIG``,
    else :func:`default_path` when it exists) over the defaults. Raises :class:`ConfigError` naming
    the key and where its value came from."""
    env = os.environ if env is None else env
    flags = flags or {}
    unknown = sorted(set(flags) - set(_BY_NAME))
    if unknown:
        raise ValueError(f"not configuration keys: {', '.join(unknown)}")
    file, from_file = _read_file(path, env)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in KEYS:
        given: list[tuple[str, Any]] = []
        if flags.get(key.name) is not None:
            given.append((f"flag {key.flag}", flags[key.name]))
        if env.get(key.env, "") != "":
            given.append((f"env {key.env}", env[key.env]))
        if key.name in from_file:
            given.append((f"file {file}", from_file[key.name]))
        if not given:
            values[key.name] = key.default
            continue
        source, raw = given[0]
        try:
            values[key.name] = key.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{key.name} {exc}", key=key.name, source=source) from None
        sources[key.name] = source
    config = Config(**values, sources=sources, file=file)
    config.credentials()  # credentials that cannot go together are refused now, not at the first request
    return config


def _read_file(path: str | Path | None, env: Mapping[str, str]) -> tuple[Path | None, dict[str, Any]]:
    named = path is not None or env.get(CONFIG_ENV, "") != ""
    file = Path(path if path is not None else env.get(CONFIG_ENV) or default_path(env)).expanduser()
    where = f"file {file}"
    if not file.exists():
        if named:
            raise ConfigError("no such configuration file", source=where)
        return None, {}
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror or exc}", source=where) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", source=where) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=where) from None
    for name in data:
        if name not in _BY_NAME:
            close = difflib.get_close_matches(name, list(_BY_NAME), n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (keys: {', '.join(_BY_NAME)})"
            raise ConfigError(f"unknown key {name!r}{hint}", key=name, source=where)
    return file, data

