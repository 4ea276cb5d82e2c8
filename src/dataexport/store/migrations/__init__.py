"""Alembic migrations of the control database, shipped inside the package (run by :mod:`..migrate`)."""
