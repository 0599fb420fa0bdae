"""The I/O-free core of chatkit-client: everything both clients do that needs no network.

Rule for every module here: it may import the standard library, pydantic, `chatkit_client.types`,
the shared vocabulary (`_exceptions`, `_constants`, `_sentinels`) and other `_core` modules; never
an HTTP library, never a shell (`_async`, `_sync`, `_http`, `cli`, `testing`). Each module's
docstring opens with what it holds; `tests/unit/test_core_imports.py` holds the rule.

Files and audio are read from disk lazily here (`files`, `audio`); no module opens a socket.
"""
