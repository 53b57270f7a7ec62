# Fault: every method loops forever. With the default limits it must cost the
# student little: every test fails, naming the time limit, within 15 s in all.
class Softmax:
    def forward(self, Z):
        while True:
            pass

    def backward(self, dLdA):
        while True:
            pass
