"""A stand-in for an OPA server: the part of OPA's REST API that govern's OPA backend uses.

It stands in for OPA because no OPA binary can be installed where this project is built; the
server backend's tests run against it always, and against a real ``opa run --server`` whenever an
``opa`` binary is on PATH. It follows OPA's REST API documentation (v1):

- ``GET /health`` → 200 ``{}``; ``GET /v1/policies`` → 200 ``{"result": [{"id", "raw"}]}``;
- ``PUT /v1/policies/<id>`` (text/plain Rego) → 200 ``{}``; a module that does not parse or compile
  with the others → 400 ``{"code": "invalid_parameter", "message": "error(s) occurred while compiling
  module(s)", "errors": [{"code", "message", "location": {"file": <id>, "row", "col"}}]}`` and is not kept;
- ``PUT /v1/data/<path>`` (JSON) → 204, replacing the document at that path;
- ``POST /v1/data/<path>?strict-builtin-errors=true`` with ``{"input": ...}`` → 200 ``{"result":
  value}``, or ``{}`` when the document is undefined; an evaluation error, a builtin's error
  included → 500 ``{"code": "internal_error", "message"}``. Without ``strict-builtin-errors`` OPA
  takes a builtin's error for undefined, which the Go library below cannot be told to do: the
  stand-in answers such a query 400, so that a client which does not ask for strict errors fails
  here as it would be wrong against OPA (a rule dividing by zero would silently find nothing).

Evaluation is done by the reference engine, the OPA Go library (``opa-golib-python-bindings``), so the
answers are OPA's. ``unavailable`` makes the next N queries answer 503, to exercise retries.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_ERROR = re.compile(r"(?P<file>\S+?):(?P<row>\d+): (?P<code>rego_\w+): (?P<message>.*)$", re.MULTILINE)


class StandinOpa:
    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.unavailable = 0  # answer the next N queries with 503
        self.queries = 0  # queries answered with 200 or 500
        self._lock = threading.Lock()
        self._engine: Any = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StandinOpa:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._engine is not None:
            self._engine.close()

    # --- the OPA side ---------------------------------------------------------------------------------

    def _build(self, policies: dict[str, str]) -> Any:
        """A fresh OPA engine with these modules and the data, compiled (the Go library compiles lazily)."""
        from opa_bindings import OpaEngine

        engine = OpaEngine()
        engine.print_handler = lambda message, location: None
        for policy_id, source in policies.items():
            engine.add_policy(policy_id, source)
        engine.add_data(self.data)
        engine.eval_query("true")
        return engine

    def put_policy(self, policy_id: str, source: str) -> tuple[int, dict]:
        from opa_bindings import OpaError

        with self._lock:
            trial = {**self.policies, policy_id: source}
            try:
                engine = self._build(trial)
            except OpaError as e:
                errors = [
                    {
                        "code": m.group("code"),
                        "message": m.group("message"),
                        "location": {"file": m.group("file"), "row": int(m.group("row")), "col": 1},
                    }
                    for m in _ERROR.finditer(e.message)
                ]
                return 400, {
                    "code": "invalid_parameter",
                    "message": "error(s) occurred while compiling module(s)",
                    "errors": errors or [{"code": e.code, "message": e.message}],
                }
            self._replace(engine)
            self.policies = trial
        return 200, {}

    def put_data(self, path: list[str], value: Any) -> tuple[int, dict | None]:
        with self._lock:
            node = self.data
            for part in path[:-1]:
                node = node.setdefault(part, {})
            if path:
                node[path[-1]] = value
            else:
                self.data = value
            self._replace(self._build(self.policies))
        return 204, None

    def query(self, path: list[str], body: dict) -> tuple[int, dict]:
        from opa_bindings import OpaError, OpaUndefinedError

        with self._lock:
            if self.unavailable > 0:
                self.unavailable -= 1
                return 503, {"code": "unavailable", "message": "server is not ready"}
            engine = self._engine or self._build(self.policies)
            self._engine = engine
            self.queries += 1
        try:
            return 200, {"result": engine.eval_document(".".join(path), body.get("input"))}
        except OpaUndefinedError:
            return 200, {}
        except OpaError as e:
            return 500, {"code": "internal_error", "message": e.message}

    def _replace(self, engine: Any) -> None:
        if self._engine is not None:
            self._engine.close()
        self._engine = engine

    # --- HTTP -------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        opa = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, status: int, body: dict | None) -> None:
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _parts(self, prefix: str) -> list[str]:
                return [p for p in self.path.split("?")[0].removeprefix(prefix).split("/") if p]

            def do_GET(self) -> None:
                if self.path == "/health":
                    self._send(200, {})
                elif self.path.rstrip("/") == "/v1/policies":
                    self._send(200, {"result": [{"id": i, "raw": s} for i, s in opa.policies.items()]})
                else:
                    self._send(404, {"code": "resource_not_found", "message": self.path})

            def do_PUT(self) -> None:
                body = self._body()
                if self.path.startswith("/v1/policies/"):
                    self._send(*opa.put_policy(self.path.removeprefix("/v1/policies/"), body.decode()))
                elif self.path.startswith("/v1/data"):
                    self._send(*opa.put_data(self._parts("/v1/data"), json.loads(body)))
                else:
                    self._send(404, {"code": "resource_not_found", "message": self.path})

            def do_POST(self) -> None:
                body = self._body()
                if self.path.startswith("/v1/data"):
                    strict = parse_qs(urlsplit(self.path).query).get("strict-builtin-errors", [""])
                    if not any(value.lower() == "true" for value in strict):
                        message = "this stand-in evaluates with strict-builtin-errors=true only"
                        self._send(400, {"code": "invalid_parameter", "message": message})
                        return
                    self._send(*opa.query(self._parts("/v1/data"), json.loads(body or b"{}")))
                else:
                    self._send(404, {"code": "resource_not_found", "message": self.path})

        return Handler
