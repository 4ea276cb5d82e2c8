"""dataexport: a self-hosted Data Export Service for Microsoft Dataverse / Dynamics 365."""

__version__ = "0.1.0"
