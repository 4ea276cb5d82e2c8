"""The service layer: what the REST API and the scheduler do, framework-free.

- :mod:`.problems`: refusals as values (the API maps them to status codes and DES error bodies).
- :mod:`.organizations`, :mod:`.catalog`: registered organizations, their sources and metadata (cached).
- :mod:`.profiles`, :mod:`.lifecycle`, :mod:`.status`: profile CRUD, the §4 transitions, the status block.
- :mod:`.checks`: the §5 test/validate/pre-flight checks.
- :mod:`.scheduler`: runs every active profile with the engine.
- :mod:`.runtime`: the composition root of ``dataexport serve``.
"""
