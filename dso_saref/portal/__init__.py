"""The developer portal of the DSO Interface: a static site generated from the catalog
(:mod:`~dso_saref.portal.site`), also served at ``/portal`` by a running DSO with a live status page
(:mod:`~dso_saref.portal.serving`)::

    from dso_saref.portal.site import Site
    Site().build(Path("portal"))                 # dso-saref portal build portal
"""
