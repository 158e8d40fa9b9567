"""The commune registry inside the backend: loaded from the registry file, read by the API."""
