"""A toy wire, defined entirely in this folder: the proof that a new protocol is one folder and
one registration (`build_runtime(..., wires=(WIRE,))`), with no file outside it edited.

The toy protocol: `POST {base}/echo` with `{"model", "prompt", "stream"}` and the key in
`x-toy-key`, answered with the prompt's words (streamed as `data: {"delta": ...}` lines ending
with `data: {"done": true, "model", "usage"}`, or whole as `{"model", "text", "usage"}`);
`GET {base}/models`; errors as `{"problem": {"kind", "text"}}`.
"""

from tests.toy_wire.wire import KEY, MODEL, WIRE

__all__ = ["KEY", "MODEL", "WIRE"]
