"""``python -m dso_saref.cli``: the ``dso-saref`` command."""

from dso_saref.cli import main

main()
