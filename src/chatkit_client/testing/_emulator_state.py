"""The emulator's shared state: API key, records under one lock, clock; imports only `_emulator_model`."""

from __future__ import annotations

import itertools
import threading
import time

from ._emulator_model import Feedback, FileInfo, RecordedRequest, SessionRecord, ThreadRecord


class EmulatorState:
    """The API key and everything the endpoints read and write; hold `lock` while touching the records.

    The lock is reentrant so a responder (called under the lock) may read the emulator's views.
    """

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.lock = threading.RLock()
        self.offset = 0.0
        self.seq = itertools.count()
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, SessionRecord] = {}
        self.by_secret: dict[str, str] = {}
        self.threads: dict[str, ThreadRecord] = {}
        self.files: dict[str, FileInfo] = {}
        self.feedback: list[Feedback] = []

    def now(self) -> float:
        """Wall time plus everything passed to `HostedEmulator.advance`; the caller holds the lock."""
        return time.time() + self.offset
