# A bare WebSocket client on the daemon's unix socket, for the test helpers
# that must do what no SDK lets one do (stop reading, send odd frames):
# ws_exec.py and ws_proxy.py.
import base64, os, socket, struct, sys, time


class Client:
    def __init__(self, sock_path, path):
        """Connects to the API at @sock_path and upgrades GET @path, or exits."""
        self.s = socket.socket(socket.AF_UNIX)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.s.connect(sock_path)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
                        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self.s.recv(4096)
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            sys.exit("no upgrade: " + head.decode(errors="replace"))

    def send(self, op, data):
        """One masked frame with opcode @op."""
        mask = os.urandom(4)
        n = len(data)
        hdr = bytes([0x80 | op])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError
            self.buf += d

    def frame(self):
        """The next frame as (opcode, payload); EOFError at the socket's end."""
        self._need(2)
        op, ln, hl = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
        if ln == 126:
            self._need(4)
            ln, hl = struct.unpack(">H", self.buf[2:4])[0], 4
        elif ln == 127:
            self._need(10)
            ln, hl = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(hl + ln)
        data, self.buf = self.buf[hl:hl + ln], self.buf[hl + ln:]
        return op, data


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def growth_kib(pid, seconds):
    """How much process @pid's resident memory grew, at its peak, over @seconds."""
    base = peak = rss_kib(pid)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.2)
        peak = max(peak, rss_kib(pid))
    return peak - base
