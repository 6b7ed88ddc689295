"""A loopback TCP proxy that cuts connections at given byte positions of the client->server
stream (counted over all connections), like a Wi-Fi drop in the middle of an upload, and can
limit the upstream rate like a slow link."""
import socket
import threading
import time


class CutProxy:
    def __init__(self, target_port: int, cuts=(), rate: float | None = None):
        self.target = ("127.0.0.1", target_port)
        self.rate = rate                 # upstream bytes per second per connection, None: unlimited
        self.cuts = sorted(cuts)
        self.upstream_bytes = 0          # everything the client sent, including what was cut off
        self.cuts_done = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _allow(self, n: int) -> int:
        """How many of the next n upstream bytes may pass before the next cut (-1: cut now)."""
        with self._lock:
            pos = self.upstream_bytes
            if self.cuts_done < len(self.cuts) and self.cuts[self.cuts_done] < pos + n:
                allowed = max(self.cuts[self.cuts_done] - pos, 0)
                self.cuts_done += 1
                self.upstream_bytes += allowed
                return -1 - allowed
            self.upstream_bytes += n
            return n

    def _pump(self, src, dst, upstream):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                if upstream:
                    if self.rate:
                        time.sleep(len(data) / self.rate)
                    allowed = self._allow(len(data))
                    if allowed < 0:
                        dst.sendall(data[:-1 - allowed])
                        break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):      # a cut closes both sides at once
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self._stop = True
        self.listener.close()
