"""Defaults shared by the clients, written once."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MAX_RETRIES = 2
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 600.0
# The largest non-streamed answer read (decompressed): a thread page is kilobytes, a gzip bomb gigabytes.
DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024
# Error bodies only feed a message, so far less of them is kept.
MAX_ERROR_BODY = 64 * 1024

# The header every hosted ChatKit endpoint is called with (docs/protocol.md §8.1: harmless where not required).
BETA_HEADER = {"OpenAI-Beta": "chatkit_beta=v1"}

INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
# A server asking us to wait longer than this gets an error instead of a silent minute-long stall.
MAX_RETRY_AFTER = 60.0

LOGGER_NAME = "chatkit_client"
