# Runs before main.py at every start. Kept minimal: a mistake here can lock out the REPL.
import esp

esp.osdebug(None)  # no ROM debug output on the console
