"""Broker accounts: per-device MQTT credentials, the ACL generated from the registry, snippets.

The state is two files Mosquitto reads: the password file and the ACL file, in one folder
(``SANGSACH_BROKER_AUTH_DIR``). ``sangsach devices`` changes them; Mosquitto reloads them on
SIGHUP.
"""
