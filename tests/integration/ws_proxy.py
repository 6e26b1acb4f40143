# A bare WebSocket client of the API's proxy route on the daemon's unix
# socket, for test_proxy.sh: it can send what the SDK never sends, and
# stop reading, which no SDK lets one do.
#   ws_proxy.py SOCK SPRITE first TEXT
#     sends TEXT as the first message (binary if it starts with "BIN:") and
#     prints the server's first text answer, then "close CODE".
#   ws_proxy.py SOCK SPRITE stall PORT SECONDS DAEMON_PID
#     connects to PORT, reads nothing for SECONDS while watching the
#     daemon's resident memory, then reads 1 MiB; prints "GROWTH_KIB READ".
import base64, json, os, socket, struct, sys, time

sock_path, sprite, mode = sys.argv[1], sys.argv[2], sys.argv[3]

s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(sock_path)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /v1/sprites/{sprite}/proxy HTTP/1.1\r\nHost: localhost\r\n"
           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, buf = buf.split(b"\r\n\r\n", 1)
if b" 101 " not in head.split(b"\r\n")[0]:
    sys.exit("no upgrade: " + head.decode(errors="replace"))

def send(op, data):
    mask = os.urandom(4)
    n = len(data)
    hdr = bytes([0x80 | op])
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(1 << 20)
        if not d:
            raise EOFError
        buf += d

def frame():
    global buf
    need(2)
    op, ln, hl = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if ln == 126:
        need(4)
        ln, hl = struct.unpack(">H", buf[2:4])[0], 4
    elif ln == 127:
        need(10)
        ln, hl = struct.unpack(">Q", buf[2:10])[0], 10
    need(hl + ln)
    data, buf = buf[hl:hl + ln], buf[hl + ln:]
    return op, data

def status():
    while True:
        op, data = frame()
        if op == 1:
            return json.loads(data)
        if op == 8:
            raise EOFError

if mode == "first":
    text = sys.argv[4]
    if text.startswith("BIN:"):
        send(2, text[4:].encode())
    else:
        send(1, text.encode())
    try:
        print(json.dumps(status(), sort_keys=True))
    except EOFError:
        print("no answer")
    code = None
    try:
        while code is None:
            op, data = frame()
            if op == 8:
                code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
    except EOFError:
        code = "eof"
    print("close", code)
elif mode == "stall":
    port, stall, pid = int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]

    def rss_kib():
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    send(1, json.dumps({"host": "localhost", "port": port}).encode())
    st = status()
    if st.get("status") != "connected":
        sys.exit(f"not connected: {st}")
    base = peak = rss_kib()
    end = time.monotonic() + stall
    while time.monotonic() < end:
        time.sleep(0.2)
        peak = max(peak, rss_kib())
    got = 0
    while got < (1 << 20):
        op, data = frame()
        if op == 8:
            break
        got += len(data)
    print(peak - base, got)
