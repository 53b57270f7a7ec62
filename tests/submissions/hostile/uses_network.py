# Cheat: sends what it is given to a server (PORT on the loopback, set by the
# test) and prints CONNECTED on success, or "no network:" and why. Its own
# answers are zeros.
import socket

import numpy as np

PORT = 0  # filled in by the test


def _send(data):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as conn:
            conn.settimeout(0.5)
            conn.connect((b"127.0.0.1", PORT))  # bytes: no host-name codec to import
            conn.sendall(b"LEAK " + data.tobytes()[:64])
        print("CONNECTED")
    except OSError as exc:
        print("no network:", type(exc).__name__, exc)


class Softmax:
    def forward(self, Z):
        _send(Z)
        return np.zeros_like(Z)

    def backward(self, dLdA):
        _send(dLdA)
        return np.zeros_like(dLdA)
