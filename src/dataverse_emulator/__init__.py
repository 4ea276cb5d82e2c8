"""A local Dataverse: the Web API v9.2 subset with change tracking, metadata, identity and an admin surface.

This package imports nothing from ``dataexport`` (enforced by import-linter): a parsing bug must not be able
to hide on both sides of the wire.
"""

__version__ = "0.1.0"
