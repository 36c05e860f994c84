"""Creates a host shape for the collector benchmark, prints "ready", then waits.

usage: shape.py LISTENERS CONNECTIONS
Opens LISTENERS TCP listeners on 127.0.0.1 (kernel-chosen ports) and CONNECTIONS established
loopback connections (both ends held open, so 2 x CONNECTIONS established sockets).
"""
import resource, signal, socket, sys, time

listeners, conns = int(sys.argv[1]), int(sys.argv[2])
need = listeners + 2 * conns + 64
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < need:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
keep = []
for _ in range(listeners):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    keep.append(s)
if conns:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4096)
    keep.append(srv)
    port = srv.getsockname()[1]
    for i in range(conns):
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = srv.accept()
        keep.extend((c, a))
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(3600)
