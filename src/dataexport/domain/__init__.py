"""Pure values and rules of the Data Export Service.

Nothing here performs I/O: the modules import only the standard library, pydantic and the product's
exception tree (:mod:`dataexport.errors`). Adapters (``source``, ``destination``, ``store``) and the engine
exchange these values.

- :mod:`.sync`: entity phases and their transitions, the record retry policy, backoff.
- :mod:`.schema`: entity metadata (attributes, option sets, relationships).
- :mod:`.columns`: which attributes get columns, their order and dialect-neutral column specs (DES §6.2-6.4).
- :mod:`.values`: conversion of Web API JSON values to Python values (DES §6.3).
- :mod:`.changes`: upserts, deletes, change batches and the mapping of a Web API row to column values.
- :mod:`.guards`: the version, tombstone and delete guards (DES §7.3, §7.5).
- :mod:`.metadata`: the rows of the DES metadata tables (DES §6.5).
- :mod:`.failures`: failure-ledger entries and their DES line format (DES §8.3).
- :mod:`.profile`, :mod:`.profile_rules`, :mod:`.secret_refs`: the export profile and its rules (DES §1.7, §2).
"""
