"""What every stand-in under tests/standins shares; tests/common/standin.rs starts them all so.

Layout: tests/standins/NAME/serve.py, started as `python serve.py DIR [ARGS...]` where DIR is a
directory of the test's own (state, data, the stand-in's stderr in DIR/serve.log). A stand-in
binds a free loopback port itself, and once it answers requests prints one line on stdout,
`ready on 127.0.0.1:PORT` (nothing else goes to stdout). It exits when its parent, the test
process named by SIGBATCH_STANDIN_PARENT, is gone, so a server a test never stopped does not
outlive the test binary; tests stop it earlier by killing it (SIGKILL).
"""

import os
import socket
import threading
import time


def exit_with_parent():
    """Exits this process (os._exit: at once, whatever it is doing) when the parent is gone."""
    parent = os.environ.get("SIGBATCH_STANDIN_PARENT")
    if not parent:
        return

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != int(parent):
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def free_port():
    """A loopback port nothing listens on now (for a server this stand-in starts itself)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening_socket():
    """A socket listening on a free loopback port, and that port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock, sock.getsockname()[1]


def ready(port):
    """Says the stand-in answers on `port`, then sends anything else printed to /dev/null (the
    test reads only this line and may close the pipe)."""
    print(f"ready on 127.0.0.1:{port}", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def serve_asgi(app, sock, port, log_level="warning"):
    """Serves an ASGI app with uvicorn on `sock`, saying `ready` once uvicorn has started."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if not self.should_exit:
                ready(port)

    Server(uvicorn.Config(app, log_level=log_level)).run(sockets=[sock])
