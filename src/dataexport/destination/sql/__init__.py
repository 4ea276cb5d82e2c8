"""The SQL destination over SQLAlchemy Core, one module per concern.

- :mod:`.engine`: creating the engine (SQLite pragmas, ``BEGIN IMMEDIATE``).
- :mod:`.dialects`: one entry per database family (capabilities, types, statements, error table).
- :mod:`.naming`, :mod:`.types`, :mod:`.classification`: names, the §6.3 type table, the error table.
- :mod:`.layout`, :mod:`.evolution`, :mod:`.ddl`: existing tables, schema-change planning, DDL.
- :mod:`.metadata_tables`: the six metadata tables and DeleteLog.
- :mod:`.writes`, :mod:`.plans`, :mod:`.isolation`: guarded write statements and failure isolation.
- :mod:`.seen`: the re-baseline seen-set staging table.
- :mod:`.destination`: :class:`~.destination.SqlDestination`, the Protocol implementation.
"""
