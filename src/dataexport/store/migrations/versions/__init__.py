"""Migration scripts, oldest first; each adds to the schema through its own revision, never by editing one."""
