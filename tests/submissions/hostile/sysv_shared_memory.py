# Fault: takes System V shared memory and message queues, which RLIMIT_AS does
# not bound and which outlive the process that made them, at import and in
# every call, then computes correct answers. Prints what it got.
import ctypes
import os

import numpy as np

IPC_PRIVATE, IPC_CREAT = 0, 0o1000
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p


def _take(megabytes, key):
    shm = libc.shmget(ctypes.c_int(key), ctypes.c_size_t(megabytes << 20), ctypes.c_int(IPC_CREAT | 0o666))
    if shm < 0:
        print(f"shmget of {megabytes} MB failed: errno {ctypes.get_errno()}")
    else:
        address = libc.shmat(ctypes.c_int(shm), None, ctypes.c_int(0))
        if address not in (None, ctypes.c_void_p(-1).value):
            ctypes.memset(address, 1, megabytes << 20)
        print(f"shmget of {megabytes} MB: id {shm}")
    queue = libc.msgget(ctypes.c_int(key + 1), ctypes.c_int(IPC_CREAT | 0o666))
    print("msgget:", "failed" if queue < 0 else f"id {queue}")


_take(8, 0x5EED0000 + os.getpid() % 1000)
_take(512, IPC_PRIVATE)


class Softmax:
    def forward(self, Z):
        _take(4, IPC_PRIVATE)
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True)
        return self.A

    def backward(self, dLdA):
        s = (dLdA * self.A).sum(axis=1, keepdims=True)
        return self.A * (dLdA - s)
