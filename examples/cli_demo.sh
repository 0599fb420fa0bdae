#!/usr/bin/env bash
# The command-line half of `make demo`: a dev server in the background, `chatkit send` against its
# self-hosted endpoint and its hosted emulator, a client-tool turn in `chatkit chat`, the conformance
# table of the self-hosted endpoint, then stop.
set -euo pipefail
BIN="${BIN:-.venv/bin}"
PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ORIGIN="http://127.0.0.1:$PORT"

"$BIN/chatkit" dev-server --port "$PORT" > /dev/null &
SERVER=$!
trap 'kill -INT "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true' EXIT
"$BIN/python" - "$PORT" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the dev server did not start")
        time.sleep(0.1)
PY

echo "== chatkit dev-server on $ORIGIN"
echo '$ chatkit send "Hello from the command line" --server-url '"$ORIGIN"'/chatkit   (options may follow the command)'
"$BIN/chatkit" send "Hello from the command line" --server-url "$ORIGIN/chatkit"
echo '$ chatkit --base-url '"$ORIGIN"'/v1 --api-key sk-test-emulator --workflow wf_demo --user demo send "Hello, hosted"'
"$BIN/chatkit" --base-url "$ORIGIN/v1" --api-key sk-test-emulator --workflow wf_demo --user demo send "Hello, hosted"
echo '$ chatkit --server-url '"$ORIGIN"'/chatkit chat   (a client-tool turn, answered with a JSON result)'
printf 'tool:get_weather {"city": "Paris"}\n{"forecast": "sunny", "celsius": 21}\n' \
    | "$BIN/chatkit" --server-url "$ORIGIN/chatkit" chat
echo
echo '$ chatkit conformance --server-url '"$ORIGIN"'/chatkit --message "tool:get_weather {}" --message widget --message ask'
"$BIN/chatkit" conformance --server-url "$ORIGIN/chatkit" --message "tool:get_weather {}" --message widget --message ask
echo
echo "cli demo finished"
