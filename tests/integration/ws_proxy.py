# A bare WebSocket client of the API's proxy route on the daemon's unix
# socket, for test_proxy.sh: it can send what the SDK never sends, and
# stop reading, which no SDK lets one do.
#   ws_proxy.py SOCK SPRITE first TEXT
#     sends TEXT as the first message (binary if it starts with "BIN:") and
#     prints the server's first text answer, then "close CODE".
#   ws_proxy.py SOCK SPRITE stall PORT SECONDS DAEMON_PID
#     connects to PORT, reads nothing for SECONDS while watching the
#     daemon's resident memory, then reads 1 MiB; prints "GROWTH_KIB READ".
import json, struct, sys

from wsclient import Client, growth_kib

sock_path, sprite, mode = sys.argv[1], sys.argv[2], sys.argv[3]
ws = Client(sock_path, f"/v1/sprites/{sprite}/proxy")


def status():
    while True:
        op, data = ws.frame()
        if op == 1:
            return json.loads(data)
        if op == 8:
            raise EOFError


if mode == "first":
    text = sys.argv[4]
    if text.startswith("BIN:"):
        ws.send(2, text[4:].encode())
    else:
        ws.send(1, text.encode())
    try:
        print(json.dumps(status(), sort_keys=True))
    except EOFError:
        print("no answer")
    code = None
    try:
        while code is None:
            op, data = ws.frame()
            if op == 8:
                code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
    except EOFError:
        code = "eof"
    print("close", code)
elif mode == "stall":
    port, stall, pid = int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
    ws.send(1, json.dumps({"host": "localhost", "port": port}).encode())
    st = status()
    if st.get("status") != "connected":
        sys.exit(f"not connected: {st}")
    grew = growth_kib(pid, stall)
    got = 0
    while got < (1 << 20):
        op, data = ws.frame()
        if op == 8:
            break
        got += len(data)
    print(grew, got)
