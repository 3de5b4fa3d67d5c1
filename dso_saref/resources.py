"""Where the data folders (graph patterns, shapes, ontologies, examples) are, in a checkout or a wheel.

In a source checkout (or an editable install) they are the top-level folders beside the package; in
an installed wheel they ship inside the package as ``dso_saref/_data/<folder>``::

    >>> (data_dir("graph_patterns") / "hems-voltage.toml").is_file()
    True
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_FOLDERS", "data_dir"]

DATA_FOLDERS = ("graph_patterns", "shapes", "ontologies", "examples")

_PACKAGE = Path(__file__).resolve().parent


def data_dir(folder: str) -> Path:
    """The directory of one data folder; raises ``ValueError`` for a folder that is not one of ours."""
    if folder not in DATA_FOLDERS:
        raise ValueError(f"{folder!r} is not one of {', '.join(DATA_FOLDERS)}")
    checkout = _PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / folder).is_dir():
        return checkout / folder
    return _PACKAGE / "_data" / folder
