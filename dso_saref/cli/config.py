"""The configuration on the command line: ``--config`` and the configured flags of every command,
logging of long-running commands, and ``dso-saref config show``.

    dso-saref config show                       # every key, its effective value and where it came from
    DSO_SAREF_KE_URL=http://ke:8280/rest dso-saref ke send ...
    dso-saref serve --config dso.toml --log-level DEBUG --log-file serve.log

A command decorated with :func:`configured` gets ``--config FILE`` and one flag per configuration key it
reads; its parameters of those names receive the effective values (flag > environment > file >
default, see :mod:`dso_saref.config`), and :func:`current_config` gives the whole configuration.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

import click

from dso_saref.config import KEYS, Config, ConfigError, default_path, load_config

__all__ = ["config_group", "configured", "current_config", "logging_to"]

F = TypeVar("F", bound=Callable[..., Any])

_META = "dso_saref.config"
_KEYS = {key.name: key for key in KEYS}


def current_config() -> Config:
    """The configuration of the running command (loaded by :func:`configured`; the environment and
    file alone when the command has no configured flags)."""
    ctx = click.get_current_context()
    config = ctx.meta.get(_META)
    if config is None:
        config = ctx.meta[_META] = _load(None, {})
    return config


def _load(path: str | None, flags: dict[str, Any]) -> Config:
    try:
        return load_config(path, flags=flags)
    except ConfigError as exc:
        if exc.source is not None and exc.source.startswith("flag ") and exc.key is not None:
            raise click.BadParameter(str(exc).removeprefix(f"{exc.source}: "), param_hint=_KEYS[exc.key].flag) \
                from None
        raise click.UsageError(f"configuration: {exc}") from None


def configured(*keys: str, required: tuple[str, ...] = (), log_default: str | None = None) -> Callable[[F], F]:
    """Add ``--config FILE`` and a flag per configuration key of ``keys`` to a command; the command's
    parameters of the same names receive the effective values. A key of ``required`` that no flag,
    variable or file sets is a usage error. With ``log_level`` among the keys, the command runs with
    the ``dso_saref`` loggers writing to standard error (or ``log_file``), at ``log_default`` when
    nothing configures the level (the demo: WARNING, its narration is the output)."""
    unknown = sorted(set(keys) - set(_KEYS))
    if unknown:
        raise ValueError(f"not configuration keys: {unknown}")

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, config_file: str | None, **kwargs: Any) -> Any:
            config = _load(config_file, {k: kwargs[k] for k in keys})
            if log_default is not None and config.source("log_level") == "default":
                config = replace(config, log_level=log_default)
            click.get_current_context().meta[_META] = config
            for name in required:
                if getattr(config, name) is None:
                    key = _KEYS[name]
                    where = config.file or default_path()
                    raise click.UsageError(f"missing {key.flag} (or {key.env}, or {name} in {where})")
            kwargs.update({k: getattr(config, k) for k in keys})
            if "log_level" not in keys:
                return command(*args, **kwargs)
            with logging_to(config):
                return command(*args, **kwargs)

        for name in reversed(keys):
            key = _KEYS[name]
            shown = key.default if key.default not in (None, {}) else "none"
            if name == "log_level" and log_default is not None:
                shown = log_default
            run = click.option(key.flag, name, default=None, metavar=_metavar(name),
                               help=f"{key.help} [default: {shown}; env {key.env}]")(run)
        run = click.option("--config", "config_file", default=None, metavar="FILE",
                           help="Configuration file (TOML) [default: $DSO_SAREF_CONFIG, else "
                                "~/.config/dso-saref/config.toml].")(run)
        return run  # type: ignore[return-value]

    return decorate


def _metavar(name: str) -> str:
    return {"ke_url": "URL", "kb_id": "IRI", "db": "DATABASE", "base": "IRI", "timezone": "ZONE",
            "max_size": "SIZE", "log_level": "LEVEL", "log_file": "FILE"}.get(name, "TEXT")


@contextmanager
def logging_to(config: Config) -> Iterator[None]:
    """While the block runs, the ``dso_saref`` loggers write at ``config.log_level`` to standard error
    (or ``config.log_file``); the effective configuration is logged at DEBUG, secrets masked."""
    logger = logging.getLogger("dso_saref")
    if config.log_file is not None:
        try:
            handler: logging.Handler = logging.FileHandler(config.log_file, encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"cannot write {config.log_file}: {exc.strerror or exc}",
                                     param_hint="--log-file") from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(config.log_level)
    try:
        logger.debug("configuration: %s", "; ".join(f"{name}={value} ({source})"
                                                   for name, value, source in config.shown()))
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()


@click.group("config")
def config_group() -> None:
    """The configuration every command reads (flags > DSO_SAREF_* variables > file > defaults)."""


@config_group.command("show")
@click.option("--config", "config_file", default=None, metavar="FILE", help="Configuration file (TOML).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def show(config_file: str | None, fmt: str) -> None:
    """Print every configuration key, its effective value (secrets masked) and where it came from."""
    config = _load(config_file, {})
    rows = config.shown()
    if fmt == "json":
        click.echo(json.dumps({"file": str(config.file) if config.file else None,
                               "keys": {name: {"value": value, "source": source} for name, value, source in rows}},
                              indent=2))
        return
    width = max(len(name) for name, _, _ in rows)
    values = max(len(value) for _, value, _ in rows)
    for name, value, source in rows:
        click.echo(f"{name:{width}}  {value:{values}}  {source}")
    click.echo(f"file: {config.file or f'{default_path()} (absent)'}", err=True)
