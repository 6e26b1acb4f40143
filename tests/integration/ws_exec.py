# A bare WebSocket exec client on the daemon's unix socket, for
# test_exec_stream.sh: it can stop reading, which no SDK lets one do.
#   ws_exec.py SOCK SPRITE STALL_S DAEMON_PID CMD...
# Runs CMD (non-tty; WS_EXEC_QUERY adds to the query, detachable=true say), reads nothing for STALL_S seconds while watching the
# daemon's resident memory, then reads to the end. Prints
#   "GROWTH_KIB STDOUT_BYTES STDOUT_MD5 STDERR_BYTES EXIT"
# where GROWTH_KIB is how much the daemon grew during the stall.
import hashlib, os, sys, urllib.parse

from wsclient import Client, growth_kib

sock_path, sprite, stall, pid = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
cmd = sys.argv[5:]

query = urllib.parse.urlencode([("cmd", c) for c in cmd])
if os.environ.get("WS_EXEC_QUERY"):
    query += "&" + os.environ["WS_EXEC_QUERY"]
ws = Client(sock_path, f"/v1/sprites/{sprite}/exec?{query}")
grew = growth_kib(pid, stall)

out, nout, nerr, code = hashlib.md5(), 0, 0, None
try:
    while code is None:
        op, data = ws.frame()
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
print(grew, nout, out.hexdigest(), nerr, code)
