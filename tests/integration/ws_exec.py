# A bare WebSocket exec client on the daemon's unix socket, for
# test_exec_stream.sh: it can stop reading, which no SDK lets one do.
#   ws_exec.py SOCK SPRITE STALL_S DAEMON_PID CMD...
# Runs CMD (non-tty; WS_EXEC_QUERY adds to the query, detachable=true say), reads nothing for STALL_S seconds while watching the
# daemon's resident memory, then reads to the end. Prints
#   "GROWTH_KIB STDOUT_BYTES STDOUT_MD5 STDERR_BYTES EXIT"
# where GROWTH_KIB is how much the daemon grew during the stall.
import base64, hashlib, os, socket, struct, sys, time, urllib.parse

sock_path, sprite, stall, pid = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
cmd = sys.argv[5:]

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(sock_path)
query = urllib.parse.urlencode([("cmd", c) for c in cmd])
if os.environ.get("WS_EXEC_QUERY"):
    query += "&" + os.environ["WS_EXEC_QUERY"]
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /v1/sprites/{sprite}/exec?{query} HTTP/1.1\r\nHost: localhost\r\n"
           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, buf = buf.split(b"\r\n\r\n", 1)
if b" 101 " not in head.split(b"\r\n")[0]:
    sys.exit("no upgrade: " + head.decode(errors="replace"))

base = rss_kib()
peak = base
end = time.monotonic() + stall
while time.monotonic() < end:
    time.sleep(0.2)
    peak = max(peak, rss_kib())

def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(1 << 20)
        if not d:
            raise EOFError
        buf += d

out, nout, nerr, code = hashlib.md5(), 0, 0, None
try:
    while code is None:
        need(2)
        op, ln = buf[0] & 0x0F, buf[1] & 0x7F
        hl = 2
        if ln == 126:
            need(4)
            ln, hl = struct.unpack(">H", buf[2:4])[0], 4
        elif ln == 127:
            need(10)
            ln, hl = struct.unpack(">Q", buf[2:10])[0], 10
        need(hl + ln)
        data, buf = buf[hl:hl + ln], buf[hl + ln:]
        if op == 8:
            break
        if op != 2 or not data:
            continue
        if data[0] == 1:
            out.update(data[1:])
            nout += len(data) - 1
        elif data[0] == 2:
            nerr += len(data) - 1
        elif data[0] == 3:
            code = data[1]
except EOFError:
    pass
print(peak - base, nout, out.hexdigest(), nerr, code)
