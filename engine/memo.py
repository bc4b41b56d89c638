"""Evaluation results kept in the cache (engine/cache.py): a product whose input document has not
changed since an earlier run is not evaluated again.

A rule's results are a function of the input document, the data document and the policy library,
so an entry is addressed by all three, by the engine and its version, and (as every cache entry)
by govern's code and the installed libraries. A nightly audit of a mesh where a few products
changed evaluates those few; a change to any rule, to the council's configuration or to govern
evaluates everything again. Two things could make a stored result wrong; both are looked for in
the policy library's syntax trees when it is parsed (engine/policy/library.py):

- a rule that reads the time of the run, ``input.now`` (or the input document as a whole, which
  could reach it): the key then holds ``now``, which changes every second, so nothing is reused
  across runs. When no module reads it, the key leaves it out;
- a call to a builtin whose answer is not a function of its arguments (:data:`NONDETERMINISTIC`):
  then nothing is stored at all.

Only results are stored, never findings: waivers, enforcement and scores are applied to them
afresh in every run. A result with a rule error is not stored (an error can come from the
machine, not the rule). Only engines whose whole state govern loads are memoized (``memoizable``:
the embedded interpreter); an OPA server may hold policies and data govern does not know of.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from engine import cache
from engine.backends import PolicyEngine, Request, Results, RuleError
from engine.policy.library import Library

KIND = "results"

# OPA's non-deterministic builtins (their answer depends on the time, the network or chance).
# (print and trace only make output, which check and audit drop: results stay reusable.)
NONDETERMINISTIC = frozenset(
    {
        "crypto.x509.parse_and_verify_certificates",
        "crypto.x509.parse_and_verify_certificates_with_options",
        "http.send",
        "io.jwt.decode_verify",
        "net.lookup_ip_addr",
        "opa.runtime",
        "rand.intn",
        "time.now_ns",
        "uuid.rfc4122",
    }
)

_NOW = re.compile(r',"now":"[^"\\]*"\}\Z')  # the input document's last field (engine/model.py InputDocument)


def nondeterministic(library: Library) -> bool:
    """Whether a module of the library calls a non-deterministic builtin."""
    return any(name in NONDETERMINISTIC for m in library.modules for name, _ in m.calls)


class Memo:
    """Results of one run's engine, library and data, looked up before and stored after evaluation."""

    def __init__(self, engine: PolicyEngine, library: Library, data: dict[str, Any]):
        self.engine = engine
        self.keep_now = any(m.reads_now for m in library.modules)
        self._key = cache.keyer(KIND, engine.name, engine.version, library.digest, json.dumps(data, sort_keys=True))

    @classmethod
    def for_run(cls, engine: PolicyEngine, library: Library, data: dict[str, Any]) -> Memo | None:
        """The memo of a run, or None when results may not be reused (see the module's docstring)
        or the cache is off."""
        if not getattr(engine, "memoizable", False) or cache.folder() is None or nondeterministic(library):
            return None
        return cls(engine, library, data)

    def key(self, request: Request) -> str:
        document, packages = request
        if not self.keep_now:
            document = _NOW.sub("}", document)
        return self._key("\n".join(packages), document)

    def evaluate_stream(self, requests: Iterable[Request | None], total: int) -> Iterator[Results | None]:
        """The engine's ``evaluate_stream``, with the requests whose results are stored answered from
        the cache: the engine sees ``None`` in their place, so it still sees ``total`` requests."""
        pending: deque[tuple[str | None, Results | None]] = deque()  # (key of a miss, stored results)

        def misses() -> Iterator[Request | None]:
            for request in requests:
                if request is None:
                    pending.append((None, None))
                    yield None
                    continue
                digest = self.key(request)
                stored = _restore(cache.get(KIND, digest), request[1])
                pending.append((None if stored is not None else digest, stored))
                yield None if stored is not None else request

        for answer in self.engine.evaluate_stream(misses(), total):
            digest, stored = pending.popleft()
            if stored is not None:
                yield stored
                continue
            if digest is not None and answer is not None and not any(isinstance(v, RuleError) for v in answer.values()):
                cache.put(KIND, digest, answer)
            yield answer


def _restore(value: Any, packages: list[str]) -> Results | None:
    """A stored entry as results, or None when it is missing or not of the right shape."""
    if not isinstance(value, dict) or set(value) != set(packages) or not all(isinstance(v, list) for v in value.values()):
        return None
    return value
