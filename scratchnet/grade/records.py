"""What a child's records say, read into outcomes under the schema: a record off it is that call's outcome.

`apply` takes the records of one child (scratchnet/grade/watch.py) in order: "import", "defined", one "call"
per call (its outcome, and its arguments as they came back, for the check of in-place changes), "policy"
(what the exercise does not allow), "fault" (the child's own failure), "isolation". The first record for a
call counts; a record that cannot be read becomes that call's NotRun ("sent back something the grader
cannot read: …"); a record that names no call it could belong to is dropped.
"""

from dataclasses import dataclass

from scratchnet.grade.channel import ChannelError, to_tree
from scratchnet.grade.execute import NotRun, Raised, TimedOut, changed, returned


@dataclass(frozen=True)
class Batch:
    """The calls one child was given: `todo` (their indices into `calls`, in the child's order), every call of
    the submission and its argument names, the limits it ran under, the submission's file name (for frames)."""

    todo: list
    calls: list
    names: list
    limits: object
    filename: str


def apply(records, batch, run):
    """Record what each child record says in `run`; the indices (into batch.todo) of the calls done."""
    done = set()
    for item in records:
        record, arrays = item if isinstance(item, tuple) else (getattr(item, "record", None), [])
        record = record if isinstance(record, dict) else {}
        index = record.get("index")
        index = index if type(index) is int and 0 <= index < len(batch.todo) and index not in done else None
        try:
            if isinstance(item, ChannelError):
                raise item
            _one_record(record, arrays, index, batch, run)
        except ChannelError as e:
            if index is None:
                continue  # nothing to pin it on: the call it belongs to ends up "not run"
            run.outcomes[batch.todo[index]] = NotRun(f"sent back something the grader cannot read: {e}")
        if record.get("kind") == "call" and index is not None:
            done.add(index)
    return done


def _one_record(record, arrays, index, batch, run):
    kind = record["kind"]
    if kind == "call" and index is not None:
        i = batch.todo[index]
        run.outcomes[i] = _outcome(record.get("outcome"), record.get("after"), arrays, batch, i)
    elif kind == "import":
        outcome = record.get("outcome")
        run.import_outcome = None if outcome is None else _outcome(outcome, None, arrays, batch, None)
    elif kind == "defined" and isinstance(record.get("names"), list):
        run.defined.update(n for n in record["names"] if isinstance(n, str))
    elif kind == "policy" and isinstance(record.get("what"), str) and len(run.policy) < 20:
        run.policy.append(record["what"][:200])
    elif kind == "fault" and isinstance(record.get("message"), str):
        run.fault = record["message"][:500]
    elif kind == "isolation" and run.private_tmp is None:
        run.private_tmp = record.get("private_tmp") is True


def _outcome(outcome, after, arrays, batch, i):
    """Call i's outcome (the import's, i None) from its record; ChannelError when it is off the schema."""
    call, names = (None, ()) if i is None else (batch.calls[i], batch.names[i])
    if not (isinstance(outcome, dict) and len(outcome) == 1):
        raise ChannelError("an outcome that is not one of returned, raised, timeout, memory")
    (kind, value), = outcome.items()
    after = to_tree(after, arrays) if call is not None else None
    if kind == "returned" and call is not None:
        return returned(call, names, to_tree(value, arrays), after)
    if kind == "raised" and isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value[:2]):
        frames = [(batch.filename, f[0], str(f[1])[:100], str(f[2])[:200]) for f in value[2][:20]
                  if isinstance(f, list) and len(f) == 3 and type(f[0]) is int] if isinstance(value[2], list) else []
        return Raised(value[0][:100], value[1][:500], frames, changed(call, names, after) if call else [])
    if kind == "timeout":
        return TimedOut(batch.limits.time_limit)
    if kind == "memory":
        return Raised("MemoryError", f"more than {batch.limits.memory_mb} MiB", [])
    raise ChannelError(f"an outcome of unknown kind {kind[:40]!r}")
