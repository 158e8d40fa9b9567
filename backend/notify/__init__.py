"""SMS notifications: templates, the durable outbox, providers, the dispatcher and replies.

``text`` and ``templates`` are pure; ``outbox`` and ``inbound`` talk SQL; ``providers`` talk to
the carrier; ``dispatcher`` moves messages from the outbox to a provider.
"""
