"""Deterministic sample data for an emulated organization, in the storage layer's form (spec §9.2).

Public surface:

* :func:`sample_identities` → :class:`SampleIdentities`: the fixed users, roles, teams, currencies;
* :func:`generate_org` → an iterator of :class:`GeneratedRow`, streaming (memory independent of scale);
* :class:`RowFactory`, :func:`make_row`, :func:`mutate_row`: single rows and partial updates for workloads.

Storage forms per attribute type are listed in :mod:`.encode`. The package draws randomness only from
seeded ``random.Random`` instances and keyed hashes, never from ``hash()``, the clock or the OS.
"""

from dataverse_emulator.generator.coupled import base_amount
from dataverse_emulator.generator.identities import (
    SALESPERSON_TEMPLATE_ID,
    SYSTEM_ADMINISTRATOR_TEMPLATE_ID,
    SampleCurrency,
    SampleIdentities,
    SampleLink,
    SampleRole,
    SampleTeam,
    SampleUser,
    sample_identities,
)
from dataverse_emulator.generator.org import DEFAULT_EPOCH, GeneratedRow, generate_org
from dataverse_emulator.generator.plan import PER_ACCOUNT
from dataverse_emulator.generator.workload import LookupPool, RowFactory, make_row, mutate_row

__all__ = [
    "DEFAULT_EPOCH",
    "PER_ACCOUNT",
    "SALESPERSON_TEMPLATE_ID",
    "SYSTEM_ADMINISTRATOR_TEMPLATE_ID",
    "GeneratedRow",
    "LookupPool",
    "RowFactory",
    "SampleCurrency",
    "SampleIdentities",
    "SampleLink",
    "SampleRole",
    "SampleTeam",
    "SampleUser",
    "base_amount",
    "generate_org",
    "make_row",
    "mutate_row",
    "sample_identities",
]
