"""The REST API: one router per resource, dependencies in ``deps.py``."""
