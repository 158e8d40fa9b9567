"""Simulated lamp and bin nodes that speak the wire contract to a real MQTT broker.

``run.run_simulation`` plays a commune from its registry: ``scenario`` orders the output of
the pure node state machines (``lamp``, ``wastebin``, with ``faults`` and ``invalid``
messages mixed in) in simulated time (``clock``); ``fleet`` publishes it, one MQTT client per
device in one thread; ``ledger`` records what the broker acknowledged.
"""
