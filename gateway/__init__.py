"""The gateway: the edge process at the commune.

It takes device messages from the broker (``mqtt.py``), checks them against the wire contract
(``validate.py``), drops duplicates (``dedup.py``), writes them durably to a spool on disk
(``spool.py``) before acknowledging them to the broker (``intake.py``), and forwards batches to
the backend over HTTP (``forwarder.py``). ``service.py`` wires the parts together.
"""
