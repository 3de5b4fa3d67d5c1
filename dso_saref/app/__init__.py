"""What runs the library: the DSO service (``serve``), the end-to-end demo of the seven use cases
(``demo``, ``scenarios``), the reference counterparts of the DSO (service providers, third parties)
and the reproducible seed data. The library never imports this package; the CLI does."""
