"""The Dataverse Web API implementation of :class:`dataexport.source.base.Source`.

Modules, one concern each: :mod:`.config` (settings, the https rule), :mod:`.auth` (tokens),
:mod:`.transport` (one HTTP exchange), :mod:`.classify` (the pure decision table), :mod:`.retry` (the loop
acting on it), :mod:`.throttle` (the identity's budget), :mod:`.paging` and :mod:`.pages` (page requests
and page parsing), :mod:`.metadata` and :mod:`.organization` (metadata and organization reads),
:mod:`.responses` (JSON, error bodies, ``Retry-After``) and :mod:`.client` (the facade).
"""

from dataexport.source.dataverse.client import DataverseSource
from dataexport.source.dataverse.config import (
    ClientCredentials,
    PageSettings,
    RetrySettings,
    SourceConfig,
    StaticToken,
    ThrottleSettings,
    Timeouts,
)
from dataexport.source.dataverse.throttle import BudgetLedger, ThrottleGate

__all__ = [
    "BudgetLedger",
    "ClientCredentials",
    "DataverseSource",
    "PageSettings",
    "RetrySettings",
    "SourceConfig",
    "StaticToken",
    "ThrottleGate",
    "ThrottleSettings",
    "Timeouts",
]
