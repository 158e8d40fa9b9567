"""This node's side of updates over the air, what every wake needs: the release it runs (for
the status message), the last update's outcome, confirming a release on trial once the broker
is reached, and restarting a trial that does not get there. The download itself (ota.py) is
imported only for an offer that is new to the node.
"""

import json

import loader
import machine

from clock import Clock

RETRY_MS = 600_000  # a download broken off by the network starts again this much later

TYPE_CHECKING = False  # MicroPython has no typing module; the type checker reads this as True
if TYPE_CHECKING:
    from ota import Download  # at run time ota is imported only when an offer is new


class Updates:
    def __init__(self, settings: dict, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.started_ms = clock.now_ms()
        state = loader.read()
        self.trial = state.get("trial")
        running = self.trial or state.get("active")
        self.number = running["number"] if running else 0
        self.fw = running["version"] if running else settings["fw"]
        self.last = state.get("last")  # what the status message says of the last update
        self.changed = False  # ``last`` changed while connected: publish the status again
        self.download: Download | None = None  # while a new release is fetched
        self._retry: tuple | None = None  # (when, offer): a download the network broke off

    def offer(self, msg: dict) -> None:
        """A retained ``.../update`` message: fetch the release when it is new to this node."""
        text = msg["release"]
        if not isinstance(text, str) or not isinstance(msg["sig"], str):
            raise ValueError("release and sig must be text")
        release = json.loads(text)
        number = release["number"]
        if not isinstance(number, int) or not isinstance(release["version"], str):
            raise ValueError("release number and version")
        if self.download is not None and self.download.release["number"] == number:
            return  # already fetching it (the retained offer again, after a reconnect)
        last = self.last or {}
        if number <= self.number or (
            last.get("number") == number and last["state"] in ("failed", "rolled_back")
        ):
            return  # installed, older, or tried here before (a refused offer was not genuine)
        self.abandon()  # a newer offer replaces one being fetched, or one waiting to retry
        self._retry = None
        import ota

        download = ota.Download(self.settings, msg, release)
        if download.refused:
            print("ota: release %d refused: %s" % (number, download.refused))
            self._outcome(release, "refused", download.refused)
            return
        self.download = download

    def busy(self) -> bool:
        return self.download is not None

    def step(self) -> None:
        """One bounded piece of the download; the last one restarts the node."""
        download = self.download
        if download is not None and not download.step():
            self.download = None
            if download.transient:  # not the release's fault: not remembered as failed
                self._retry = (self.clock.now_ms() + RETRY_MS, download.msg)
                print("ota: trying again in %d s" % (RETRY_MS // 1000))
            elif download.failed:
                self._outcome(download.release, "failed", download.failed)

    def retry_due(self) -> None:
        """Offer again a release whose download the network broke off (a bin gets the retained
        offer again at its next send anyway; a lamp stays connected and would not)."""
        if self._retry is not None and self.clock.now_ms() >= self._retry[0]:
            msg = self._retry[1]
            self._retry = None
            self.offer(msg)

    def abandon(self) -> None:
        if self.download is not None:
            self.download.abandon()
            self.download = None

    def connected(self) -> None:
        """The node reached the broker: a release on trial works; it becomes the active one."""
        if self.trial is None:
            return
        loader.confirm()
        print("ota: release %d confirmed" % self.trial["number"])
        self.trial = None
        self.last = loader.read().get("last")
        self.changed = True

    def check_trial(self) -> None:
        """A trial that has not reached the broker in ``ota_confirm_s`` starts again (and
        loader.py rolls it back after its last try)."""
        if self.trial is None:
            return
        if self.clock.now_ms() - self.started_ms > self.settings["ota_confirm_s"] * 1000:
            print("ota: release %d not confirmed in %d s, restarting"
                  % (self.trial["number"], self.settings["ota_confirm_s"]))
            machine.reset()

    def _outcome(self, release: dict, state: str, reason: str) -> None:
        self.last = loader.outcome(release, state, reason)
        loader.record(self.last)
        self.changed = True
