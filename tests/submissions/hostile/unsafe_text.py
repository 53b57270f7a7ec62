"""Prints and raises text that acts on a terminal or breaks encoding: C1 CSI, a bidi override, a lone surrogate."""
import os
import sys

import numpy as np

NASTY = "\x9b2J \u202eevil\u202c \ud800 \x1b[31m"


# a class name is the student's text too
SneakyError = type("Sneaky\u202eError\x9b", (ValueError,), {})


class Softmax:
    def forward(self, Z):
        print("forward says", NASTY.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), flush=True)
        os.write(1, NASTY.encode("utf-8", "surrogatepass") + b"\x9b\xed\xa0\x80\n")  # raw bytes, not UTF-8
        sys.stdout.flush()
        raise SneakyError("bad input " + NASTY)

    def backward(self, dLdA):
        raise ValueError(NASTY * 3)
