"""The DSO Interface as REST (D4.2 3.2): the DSO's API and the client of the APIs the DSO calls.

Imported only by what serves or calls REST (``dso-saref serve --rest``, the REST demo, the CLI):
``import dso_saref`` never loads FastAPI::

    from dso_saref.rest.app import create_app
    from dso_saref.rest.server import RestServer
    with RestServer(create_app(backend), "127.0.0.1:8080") as server:
        ...
"""
