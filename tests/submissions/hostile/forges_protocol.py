# Cheat: backward speaks the grader's wire protocol itself on the socket it finds
# among its descriptors: a header nested too deep to parse, or an array header
# announcing far more data than it sends, and an object-dtype "array".
import json
import os
import stat
import struct

import numpy as np


def _socket_fds():
    return [fd for fd in range(3, 64) if _is_socket(fd)]


def _is_socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def _send(body, data=b""):
    for fd in _socket_fds():
        try:
            os.write(fd, b"AGW1" + struct.pack(">I", len(body)) + body + data)
        except OSError:
            pass


class Softmax:
    def forward(self, Z):
        exps = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = exps / exps.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        if dLdA.shape[1] % 2:
            _send(b"[" * 100000 + b"]" * 100000)
            return dLdA
        header = {"event": "result", "ok": True, "method": "backward", "returned": {"kind": "ndarray", "type": "ndarray"},
                  "arrays": {"result": {"dtype": "<f8", "shape": [4000, 4000], "nbytes": 128000000, "sendable": True},
                             "extra": {"dtype": "|O", "shape": [1], "nbytes": 8, "sendable": True}}}
        _send(json.dumps(header).encode(), b"\0" * 1000)
        os._exit(0)
