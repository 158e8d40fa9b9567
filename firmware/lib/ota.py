"""Updates over the air: the application's ``.mpy`` files, offered by the system, checked,
staged, swapped in at a restart and confirmed by the new application's first connection.

The offer is retained on ``.../update`` (a sleeping bin finds it at its next send), as
``{"release": TEXT, "sig": HEX}``: ``sig`` is HMAC-SHA256 of TEXT under this node's own key
(``ota_key``, which the system derives from its firmware key and the node's id, so that a key
read out of one node signs nothing for another). TEXT is the release::

    {"number": 7, "version": "1.5.0", "mpy": 6, "url": "http://pc:8000/ota/7/",
     "files": [["app.mpy", 5120, "<sha256 hex>"], ...]}

Only a release numbered above the running one is taken, and not one that failed or was rolled
back here before: a replayed old offer changes nothing. The files are fetched one bounded step
at a time (each step at most one network wait) into ``releases/<number>/``, each checked against its
size and SHA-256; then loader.py stages the release and the node restarts. The new application
confirms it once it has reached the broker (node.py); loader.py rolls back one that does not.

This module is imported only when an offer is new to the node (``wanted``, in node.py, decides
from the release's number alone): at the wakes that bring nothing new it holds no heap.
"""

import binascii
import hashlib
import io
import json
import os
import sys

import loader
import machine
import requests  # frozen into the firmware

CHUNK = 2048  # bytes read in one step from the download


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    """RFC 2104 over hashlib's SHA-256 (MicroPython has no hmac module)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(msg)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def same(a: bytes, b: bytes) -> bool:
    """Compare in time that does not depend on where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0


class Download:
    """One offered release, checked and then fetched file by file."""

    def __init__(self, settings: dict, msg: dict, release: dict) -> None:
        self.key = binascii.unhexlify(settings["ota_key"]) if settings["ota_key"] else b""
        self.timeout_s = settings["net_timeout_s"]
        self.release = release
        self.msg = msg  # kept to try again after a failure of the network
        self.refused = self._refusal(msg["release"], msg["sig"])
        self.failed = ""
        self.transient = False  # failed on the network, not on the release: try again later
        self._index = 0
        self._response: requests.Response | None = None
        self._file: io.BufferedWriter | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        if not self.refused:
            loader.remove_tree(self.folder())
            try:
                os.mkdir(loader.FOLDER)
            except OSError:
                pass  # there already
            os.mkdir(self.folder())
            print("ota: fetching release %d (%s)" % (release["number"], release["version"]))

    def _refusal(self, text: str, sig: str) -> str:
        if not self.key:
            return "no ota_key in settings.json"
        try:
            given = binascii.unhexlify(sig)
        except ValueError:
            return "signature is not hex"
        if not same(hmac_sha256(self.key, text.encode()), given):
            return "signature does not match"
        release = self.release
        mpy = getattr(sys.implementation, "_mpy", 0) & 0xFF
        if release.get("mpy") != mpy:
            return ".mpy v%r, this MicroPython loads v%d" % (release.get("mpy"), mpy)
        for entry in release["files"]:
            name = entry[0]
            if not isinstance(name, str) or "/" in name or not name.endswith(".mpy"):
                return "file name %r" % (name,)
        return ""

    def folder(self) -> str:
        return "%s/%d" % (loader.FOLDER, self.release["number"])

    def step(self) -> bool:
        """One bounded piece: open a file, read a chunk, or check a file. False once over:
        staged (and restarting), or ``failed`` says why (``transient``: the network failed,
        not the release)."""
        files = self.release["files"]
        if self._index == len(files):
            self._stage()
            return False
        name, size, digest = files[self._index]
        try:
            if self._response is None:
                self._open(self.release["url"] + name, name)
                return True
            data = self._response.raw.read(CHUNK)
        except OSError as err:
            self.transient = True
            return self._fail("download of %s: %s" % (name, err))
        if data and self._file is not None:
            self._size += len(data)
            if self._size > size:
                return self._fail("%s is longer than %d bytes" % (name, size))
            self._hash.update(data)
            self._file.write(data)
            return True
        self._close()
        got = binascii.hexlify(self._hash.digest()).decode()
        if self._size != size or got != digest:
            return self._fail("%s: %d bytes, sha256 %s..." % (name, self._size, got[:12]))
        self._index += 1
        return True

    def abandon(self) -> None:
        """Give up for now (a bin's wake is over): the retained offer starts it again."""
        self._close()
        loader.remove_tree(self.folder())

    def _open(self, url: str, name: str) -> None:
        response = requests.get(url, timeout=self.timeout_s)
        if response.status_code != 200:
            response.close()
            raise OSError("HTTP %d" % response.status_code)
        self._response = response
        self._file = open(self.folder() + "/" + name, "wb")
        self._hash = hashlib.sha256()
        self._size = 0

    def _close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _stage(self) -> None:
        release = self.release
        loader.stage({"number": release["number"], "version": release["version"],
                      "dir": self.folder()})
        print("ota: release %d staged, restarting" % release["number"])
        machine.reset()

    def _fail(self, reason: str) -> bool:
        self.abandon()
        self.failed = reason
        print("ota: release %d failed: %s" % (self.release["number"], reason))
        return False
