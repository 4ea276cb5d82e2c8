"""The REST API (DES §3): FastAPI routes that translate HTTP to the service layer and back."""
