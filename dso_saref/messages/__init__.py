"""Typed models of every DSO interface message, one module per use case.

``data_sharing`` (HLUC 5), ``flexibility`` (HLUC 10), ``observability`` (HLUC 11 PUC 1 and 3),
``elasticity`` (HLUC 11 PUC 2) and ``grid_data`` (the DSO data layer of section 4.2). Keys are exactly
those of MESSAGES.md; :mod:`dso_saref.messages.common` holds the shared field types.
"""
