"""The sandbox's channel: records of JSON and raw array bytes, data only (no pickle, nothing that runs code).

A record is 8 bytes (the length of its JSON and of its arrays' bytes, big-endian), a JSON object, then the
bytes of the arrays it declares in "arrays": [[dtype, shape], …], one after the other. A value is a tree:

    ["array", k] (the record's k-th array)   ["number", float, type name]   ["none"]   ["other", description]
    ["list", [..]]   ["tuple", [..]]   ["dict", [[key, ..], ..]]   ["function", name] (σ, σ′, by name)

The grader sends each call's arguments this way and the child sends back what each call did. What comes
from the child is read with `Reader` (byte limits per record and in all) and `to_tree` (the schema: kinds,
arity, types, depth, array indices); whatever does not fit raises ChannelError, which the grader makes that
call's outcome. An array always arrives as a plain ndarray of one of DTYPES, read from bytes.

Imports only the standard library and NumPy: the child (scratchnet/grade/child.py) loads this file alone.
"""

import json
import math
import struct
import types

import numpy as np

HEADER = struct.Struct(">II")
MAX_JSON = 1 << 20        # bytes of JSON in one record
MAX_DEPTH = 8             # nesting of a value tree
MAX_ITEMS = 64            # entries kept of a list, tuple or dict
MAX_ELEMENTS = 1_000_000  # an array larger than this is described, not sent
MAX_TEXT = 500            # characters of a string kept
DTYPES = frozenset(np.dtype(t).str for t in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?",
                                             "c8", "c16"))


class ChannelError(ValueError):
    """What came through the channel is not what the schema allows."""


def pack(record, arrays=()):
    """One record as bytes: header, JSON (with the arrays declared), the arrays' bytes."""
    text = json.dumps(dict(record, arrays=[[a.dtype.str, list(a.shape)] for a in arrays])).encode()
    data = b"".join(a.tobytes() for a in arrays)
    return HEADER.pack(len(text), len(data)) + text + data


def encode(value, names=None, arrays=None):
    """value as (tree, arrays), arrays copied as plain ndarrays and appended to `arrays` (a new list if None);
    names: {function: name} of the callables that may be sent."""
    arrays = [] if arrays is None else arrays
    return _encode(value, names or {}, arrays, 0), arrays


def _encode(value, names, arrays, depth):
    if depth >= MAX_DEPTH - 1:
        return ["other", type(value).__name__]
    if isinstance(value, np.ndarray):
        if value.dtype.str not in DTYPES or value.size > MAX_ELEMENTS:
            return ["other", f"array of dtype {value.dtype} and shape {value.shape}"]
        arrays.append(np.array(value, dtype=value.dtype, order="C", subok=False))
        return ["array", len(arrays) - 1]
    if isinstance(value, (bool, np.bool_)):
        return ["other", type(value).__name__]
    if isinstance(value, (int, float, np.integer, np.floating)):
        try:
            return ["number", float(value), type(value).__name__]
        except (OverflowError, TypeError, ValueError):
            return ["other", type(value).__name__]
    if value is None:
        return ["none"]
    if isinstance(value, types.FunctionType) and value in names:
        return ["function", names[value]]
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return [kind, [_encode(v, names, arrays, depth + 1) for v in list(value)[:MAX_ITEMS]]]
    if isinstance(value, dict):
        return ["dict", [[_key(k), _encode(v, names, arrays, depth + 1)] for k, v in list(value.items())[:MAX_ITEMS]]]
    return ["other", type(value).__name__]


def _key(k):
    if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
        return int(k)
    return repr(k)[:40]


def to_tree(tree, arrays, depth=0):
    """The grader's view of a value: tagged tuples ("array", ndarray), ("number", x, type), ("none",), ("other",
    text), ("list" | "tuple", [..]), ("dict", {key: ..}); raises ChannelError for anything off the schema."""
    _require(isinstance(tree, list) and tree and depth < MAX_DEPTH, "a value that is not a tagged list")
    kind, rest = tree[0], tree[1:]
    if kind == "array":
        k = _one(rest, int)
        _require(0 <= k < len(arrays), f"array {k} of {len(arrays)}")
        return ("array", arrays[k])
    if kind == "number":
        _require(len(rest) == 2 and _is(rest[0], (int, float)) and isinstance(rest[1], str), "a malformed number")
        return ("number", float(rest[0]), rest[1][:40])
    if kind == "none":
        _require(not rest, "a malformed None")
        return ("none",)
    if kind in ("other", "function"):
        return (kind, _one(rest, str)[:MAX_TEXT])
    if kind in ("list", "tuple"):
        items = _one(rest, list)
        _require(len(items) <= MAX_ITEMS, "too many items")
        return (kind, [to_tree(v, arrays, depth + 1) for v in items])
    if kind == "dict":
        pairs = _one(rest, list)
        _require(len(pairs) <= MAX_ITEMS and all(isinstance(p, list) and len(p) == 2 and _is(p[0], (int, str))
                                                 for p in pairs), "a malformed dict")
        return ("dict", {k: to_tree(v, arrays, depth + 1) for k, v in pairs})
    raise ChannelError(f"a value of unknown kind {str(kind)[:40]!r}")


def to_value(tree, arrays, functions):
    """The value a tree stands for, arrays copied (writable); functions: {name: function}. For the child."""
    value = to_tree(tree, arrays)
    return _value(value, functions)


def _value(node, functions):
    kind = node[0]
    if kind == "array":
        return node[1].copy()
    if kind == "number":
        return int(node[1]) if node[2] == "int" else node[1]
    if kind == "function":
        return functions[node[1]]
    if kind in ("list", "tuple"):
        items = [_value(v, functions) for v in node[1]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _value(v, functions) for k, v in node[1].items()}
    return None


def _one(rest, kind):
    _require(len(rest) == 1 and _is(rest[0], kind), "a malformed value")
    return rest[0]


def _is(x, kinds):
    return isinstance(x, kinds) and not isinstance(x, bool)


def _require(condition, what):
    if not condition:
        raise ChannelError(what)


def arrays_of(record, data, max_arrays=4 * MAX_ITEMS):
    """The arrays a record declares, read from its bytes as plain read-only ndarrays; ChannelError if off."""
    declared = record.get("arrays")
    _require(isinstance(declared, list) and len(declared) <= max_arrays, "a malformed list of arrays")
    arrays, offset = [], 0
    for item in declared:
        _require(isinstance(item, list) and len(item) == 2 and item[0] in DTYPES and isinstance(item[1], list)
                 and len(item[1]) <= 8 and all(_is(n, int) and 0 <= n <= MAX_ELEMENTS for n in item[1]),
                 "a malformed array declaration")
        dtype, shape = np.dtype(item[0]), tuple(item[1])
        count = math.prod(shape)
        _require(count <= MAX_ELEMENTS and offset + count * dtype.itemsize <= len(data),
                 "arrays longer than their bytes")
        arrays.append(np.frombuffer(data, dtype, count, offset).reshape(shape) if count else np.empty(shape, dtype))
        offset += count * dtype.itemsize
    _require(offset == len(data), "bytes that no array declares")
    return arrays


def parse(text, data, max_arrays=4 * MAX_ITEMS):
    """(record, arrays) from a record's JSON and bytes; ChannelError if it is not a JSON object with arrays."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        raise ChannelError("a record that is not JSON") from None
    _require(isinstance(record, dict) and isinstance(record.get("kind"), str), "a record without a kind")
    return record, arrays_of(record, data, max_arrays)


def read_one(stream):
    """The next record on a blocking binary stream from a trusted sender (the child reads its job and calls so)."""
    head = stream.read(HEADER.size)
    _require(len(head) == HEADER.size, "a stream that ended")
    n_text, n_data = HEADER.unpack(head)
    text, data = stream.read(n_text), stream.read(n_data)
    _require(len(text) == n_text and len(data) == n_data, "a record cut short")
    return parse(text, data, max_arrays=float("inf"))


class Reader:
    """Records out of a byte stream fed in chunks, within max_record bytes each and max_total in all.

    feed(chunk) returns the records completed, each (record, arrays) or a ChannelError (a record whose JSON
    fits but whose bytes do not: its index is kept in .record). `broken` names what ended the stream (a
    header past the limits, more than max_total bytes): nothing after it is read.
    """

    def __init__(self, max_record, max_total):
        self.max_record, self.max_total = max_record, max_total
        self.buffer, self.total, self.skip, self.broken = bytearray(), 0, 0, None

    def feed(self, chunk):
        self.total += len(chunk)
        if self.broken:
            return []
        if self.total > self.max_total:
            self.broken = f"it sent the grader more than {self.max_total >> 20} MiB"
            return []
        if self.skip:
            dropped = min(self.skip, len(chunk))
            self.skip -= dropped
            chunk = chunk[dropped:]
        self.buffer += chunk
        done = []
        while len(self.buffer) >= HEADER.size and not self.skip and not self.broken:
            n_text, n_data = HEADER.unpack_from(self.buffer)
            if n_text > MAX_JSON:
                self.broken = f"a record of {n_text} bytes of JSON, more than {MAX_JSON}"
            elif n_data > self.max_record and len(self.buffer) >= HEADER.size + n_text:
                done.append(self._oversize(n_text, n_data))
            elif n_data <= self.max_record and len(self.buffer) >= HEADER.size + n_text + n_data:
                done.append(self._record(n_text, n_data))
            else:
                break
        return done

    def _record(self, n_text, n_data):
        start = HEADER.size + n_text
        text, data = bytes(self.buffer[HEADER.size:start]), bytes(self.buffer[start:start + n_data])
        del self.buffer[:start + n_data]
        try:
            return parse(text, data)
        except ChannelError as e:
            return e

    def _oversize(self, n_text, n_data):
        start = HEADER.size + n_text
        error = ChannelError(f"{n_data} bytes of arrays, more than the {self.max_record} its answer can need")
        try:
            error.record = json.loads(bytes(self.buffer[HEADER.size:start]))
        except (ValueError, RecursionError):
            error.record = None
        rest = self.buffer[start:]
        self.skip = max(n_data - len(rest), 0)
        del self.buffer[:start + min(n_data, len(rest))]
        return error
