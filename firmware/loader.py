"""Which application folder a start imports: the factory ``lib/``, an update on trial, or a
confirmed update. Like boot.py and main.py it is never replaced over the air, so that no update
can break the way back to the application that worked.

``ota.json`` holds the state (missing: the factory ``lib/`` runs)::

    {"active": REL or null, "previous": REL or null, "trial": REL or null, "tries": 2,
     "last": {"number": 7, "version": "1.5.0", "state": "confirmed", "reason": ""}}

where REL is ``{"number": 7, "version": "1.5.0", "dir": "releases/7"}``. It is written aside and
renamed (one atomic step on LittleFS): a power cut leaves the old state or the new one.

A trial is counted at every start. The new application confirms it once it has reached the
broker (ota.py); one that has started ``MAX_TRIES`` times without confirming (it crashed, hung
until the watchdog or the trial deadline reset it, or never connected) is rolled back here,
before anything of it is imported.
"""

import json
import os

STATE = "ota.json"
FOLDER = "releases"  # releases/<number>/: one per downloaded release (not "ota": a folder
# at the root of the flash would shadow the module ota when imported)
MAX_TRIES = 3


def read() -> dict:
    try:
        with open(STATE) as f:
            state = json.load(f)
    except (OSError, ValueError):  # none yet (the factory lib/), or unreadable: start from it
        return {}
    return state if isinstance(state, dict) else {}


def write(state: dict) -> None:
    with open(STATE + ".tmp", "w") as f:
        json.dump(state, f)
    os.rename(STATE + ".tmp", STATE)


def outcome(rel: dict, state: str, reason: str = "") -> dict:
    return {"number": rel["number"], "version": rel["version"], "state": state,
            "reason": reason[:80]}


def choose() -> str | None:
    """At every start: the folder to import the application from (None: the factory lib/)."""
    state = read()
    trial = state.get("trial")
    if trial:
        tries = state.get("tries", 0) + 1
        if tries > MAX_TRIES:
            state["trial"] = None
            state["last"] = outcome(trial, "rolled_back",
                                    "not confirmed in %d starts" % MAX_TRIES)
            write(state)
            print("loader: update %d rolled back" % trial["number"])
        else:
            state["tries"] = tries
            write(state)
            print("loader: update %d on trial, start %d" % (trial["number"], tries))
            return trial["dir"]
    active = state.get("active")
    return active["dir"] if active else None


def running() -> dict | None:
    """The release this start runs (None: the factory lib/)."""
    state = read()
    return state.get("trial") or state.get("active")


def stage(rel: dict) -> None:
    """Run ``rel`` (fully downloaded and checked) on trial from the next start."""
    state = read()
    state["trial"] = rel
    state["tries"] = 0
    write(state)


def confirm() -> None:
    """The trial reached the broker: it becomes the active release, the one before it stays as
    the previous, and the folders of older ones are deleted."""
    state = read()
    trial = state.get("trial")
    if not trial:
        return
    keep = [r["dir"] for r in (trial, state.get("active")) if r]
    state["previous"] = state.get("active")
    state["active"] = trial
    state["trial"] = None
    state["tries"] = 0
    state["last"] = outcome(trial, "confirmed")
    write(state)
    try:
        names = os.listdir(FOLDER)
    except OSError:
        return
    for name in names:
        path = FOLDER + "/" + name
        if path not in keep:
            remove_tree(path)


def remove_tree(path: str) -> None:
    """Delete a release folder (files only: releases hold no folders)."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        os.remove(path + "/" + name)
    os.rmdir(path)


def record(last: dict) -> None:
    state = read()
    state["last"] = last
    write(state)
