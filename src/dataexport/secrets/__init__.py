"""Secret stores: resolve secret references (``env:``, ``file:``, Key Vault) to values, when a connection is made."""
