"""Who may call the backend: bearer tokens with roles, the web session, and request limits.

``roles`` says which role may do what, ``tokens`` keeps issued tokens (hashed) in SQL,
``identify`` turns a secret into a principal, ``csrf`` guards the web forms, ``limits`` bounds
request bodies and the ingest rate. The routes declare their role with the dependencies of
``backend/api/deps.py``.
"""
