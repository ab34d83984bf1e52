# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.1 channel
# A wrong Exp that finds the request's nonce in the worker's frames (through a traceback) and forges a reply with it.

# %%
import json
import os


def _nonce():
    try:
        raise RuntimeError
    except RuntimeError as e:
        frame = e.__traceback__.tb_frame
    while frame is not None:
        req = frame.f_locals.get("req")
        if isinstance(req, dict) and "nonce" in req:
            return req["nonce"]
        frame = frame.f_back
    return "none"


class Exp(Function):
    def forward(self, a):
        fake = json.dumps({"event": "result", "outcome": "passed", "kind": "", "message": "", "traceback": "",
                           "nonce": _nonce()}) + "\n"
        for fd in range(3, 40):
            try:
                os.write(fd, fake.encode())
            except OSError:
                pass
        return a

    def backward(self, grad):
        return grad
