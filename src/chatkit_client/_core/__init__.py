"""The I/O-free core of chatkit-client: everything both clients do that needs no network.

Rule for every module here: it may import the standard library, pydantic (with pydantic_core and
typing_extensions), `chatkit_client.types`, the shared vocabulary (`_exceptions`, `_constants`, `_sentinels`,
`_lazy`, `_version`) and other `_core` modules; never an HTTP library, never a shell (`_async`, `_sync`, `_http`,
`cli`, `testing`). Each module's docstring opens with what it holds and ends with one line stating what it
imports (`Imports: stdlib, types, _exceptions, and core: reply, sse.`); `tests/unit/test_core_imports.py`
holds both rules, and names the line to change when an import changes.

Files and audio are read from disk lazily here (`files`, `audio`); no module opens a socket.

Imports: nothing.
"""
