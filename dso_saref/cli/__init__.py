"""The ``dso-saref`` command line: thin click commands over the public API and :mod:`dso_saref.app`.

    dso-saref messages
    dso-saref saref hems-voltage examples/hems-voltage.json --format turtle
    dso-saref validate metering-data zone-day.json
    dso-saref ke send flexibility-needs-request request.json --ke-url http://127.0.0.1:8280/rest
    dso-saref serve --db dso.sqlite --seed [--rest 127.0.0.1:8080]
    dso-saref parties add SP001 --role service-provider --db dso.sqlite
    dso-saref rest openapi > openapi.json
    dso-saref config show                 # the configuration: flags > DSO_SAREF_* > config.toml > defaults

The only package that imports click. Exit codes: 0 success, 1 bad input (the message says what and
where), 2 usage error (unknown message name, unreadable file, bad option). Never a traceback.
"""

from __future__ import annotations

import click

import dso_saref
from dso_saref.cli import config, ingest, ke, messages, operator, parties, portal, report, rest

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(dso_saref.__version__, prog_name="dso-saref")
def main() -> None:
    """SAREF semantic interoperability for the InterConnect DSO Interface."""


for _command in (*messages.COMMANDS, ke.ke, *operator.COMMANDS, ingest.ingest, parties.parties, rest.rest,
                 portal.portal, report.report, config.config_group):
    main.add_command(_command)
