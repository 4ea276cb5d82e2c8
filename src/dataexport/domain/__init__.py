"""Pure values and rules of the Data Export Service.

Nothing here performs I/O: the modules import only the standard library and pydantic. Adapters
(``source``, ``destination``, ``store``) and the engine exchange these values.

- :mod:`.sync`: entity phases and their transitions, the record retry policy, backoff.
- :mod:`.schema`: entity metadata (attributes, option sets, relationships).
- :mod:`.columns`: which attributes get columns, their order and dialect-neutral column specs (DES §6.3-6.4).
- :mod:`.changes`: upserts, deletes and the mapping of a Web API row to column values.
- :mod:`.tombstones`: the no-resurrection guard (DES §7.5).
- :mod:`.metadata`: the rows of the DES metadata tables (DES §6.5).
- :mod:`.failures`: failure-ledger entries and their DES line format (DES §8.3).
- :mod:`.profile`: the export profile and its field rules (DES §2).
"""
