"""Destinations the engine writes to, behind the :class:`~dataexport.destination.base.Destination` Protocol.

- :mod:`.base`: the Protocol, its contract and the values it exchanges.
- :mod:`.sql`: the SQL implementation over SQLAlchemy Core (SQLite today; other dialects plug in as data).
- :mod:`.memory`: an in-memory implementation with the same contract, for engine tests.
"""
