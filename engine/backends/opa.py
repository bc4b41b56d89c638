"""The OPA backend: real OPA servers over their REST API, through ``opa-python-client``.

``govern check|audit --engine opa --opa-url URL [--opa-url URL ...]``:

- once per run, on every server: the policy modules go through the Policy API (``PUT
  /v1/policies/govern/<file>``, helpers first), the council's data through the Data API (``PUT
  /v1/data/govern``), and, for each distinct rule set, a generated entry module that gathers every
  rule's ``deny`` in one document (:func:`engine.backends.entry_module`);
- each product is one Data API query (``POST /v1/data/govern_run/<entry>/results``); a batch of
  products is spread over the servers, at most :data:`IN_FLIGHT` requests per server at a time;
- a request that times out, cannot connect or gets 502/503/504 is retried (:data:`RETRIES` times, with
  backoff) on the next server; a query that fails because a rule errs (OPA answers 500) is asked again
  rule by rule, so only that rule is marked ``error`` for that product, as with the embedded engine;
- an unreachable server, or a policy a server rejects, stops the run before any product is
  evaluated, with the server's message (parse and compile errors keep file:line).

Without ``--opa-url``, an ``opa`` binary on PATH is started for the run (``opa run --server`` on a
loopback port) and stopped afterwards; without either the run stops with exit 2 and says so.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from engine.backends import Batched, Request, Results, RuleError, entry_module, library_order
from engine.errors import ConfigError, GovernError, UsageError

TIMEOUT = 10.0  # seconds per request
RETRIES = 2  # further attempts of a failed request, each on the next server
IN_FLIGHT = 4  # concurrent requests per server
POLICY_PREFIX = "govern"  # policy ids on the server: govern/<file>
# A builtin's error (a division by zero, a pattern that does not compile) is an error of the rule, as
# under the embedded and reference engines; OPA's default takes it for undefined, so that the rule
# silently finds nothing (or, under `not`, something).
STRICT = {"strict-builtin-errors": "true"}
_POLICY_ID = re.compile(rf"\b{POLICY_PREFIX}/(?P<file>[^\s:]+\.rego):")
_FILE = r"\g<file>:"
DATA_ROOT = "govern"  # the rules read data.govern.*; nothing else on the server is touched


class ServerError(GovernError):
    """An OPA server could not be reached or refused a request."""


def _client(url: str) -> Any:
    from opa_client import OpaClient

    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--opa-url {url!r} is not an http(s)://host:port URL")
    if parts.path not in ("", "/"):
        raise UsageError(f"--opa-url {url!r}: OPA serves its API at the root; give only scheme, host and port")
    port = parts.port or (443 if parts.scheme == "https" else 8181)
    return OpaClient(host=parts.hostname, port=port, ssl=parts.scheme == "https", timeout=TIMEOUT, retries=RETRIES)


def _compile_errors(error: Any, url: str) -> ConfigError:
    """A RegoParseError (or an OPA error body) as a ConfigError naming the policy file and line."""
    errors = getattr(error, "errors", None) or []
    for item in errors:
        location = item.get("location") or {}
        file = str(location.get("file") or "").removeprefix(f"{POLICY_PREFIX}/")
        message = item.get("message", "")
        if file:
            return ConfigError(f"OPA at {url} rejected the policy: {message}", file, location.get("row"))
    return ConfigError(f"OPA at {url} rejected the policies: {error}")


class OpaServerEngine(Batched):
    name = "opa"

    def __init__(self, urls: list[str], process: subprocess.Popen | None = None):
        if not urls:
            raise UsageError("--engine opa needs --opa-url URL, or an opa binary on PATH")
        self.urls = urls
        self._clients = [_client(u) for u in urls]
        self._process = process
        self._entries: dict[frozenset[str], str] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=IN_FLIGHT * len(urls), thread_name_prefix="opa")
        self.version = f"OPA server{'s' if len(urls) > 1 else ''} {', '.join(urls)}"

    @classmethod
    def for_urls(cls, urls: list[str]) -> OpaServerEngine:
        if urls:
            return cls(urls)
        binary = shutil.which("opa")
        if binary is None:
            raise UsageError(
                "--engine opa needs --opa-url URL (an OPA server), or an opa binary on PATH to start one for the run"
            )
        url, process = start_local_server(binary)
        engine = cls([url], process)
        engine.version = f"opa run --server ({binary})"
        return engine

    # --- loading -------------------------------------------------------------------------------

    def load(self, modules: list[tuple[str, str]], data: dict[str, Any]) -> None:
        from opa_client.errors import ConnectionsError, RegoParseError

        ordered = library_order(modules)
        for url, client in zip(self.urls, self._clients, strict=True):
            try:
                client.check_connection()
            except ConnectionsError:
                raise ServerError(f"cannot reach the OPA server at {url}") from None
            for file, source in ordered:
                try:
                    client.update_policy_from_string(source, f"{POLICY_PREFIX}/{file}", rego_compat=False)
                except RegoParseError as e:
                    raise _compile_errors(e, url) from None
                except OSError as e:  # requests' errors are OSErrors
                    raise ServerError(f"OPA at {url}: cannot upload {file}: {e}") from None
            for key, value in data.items():
                if key != DATA_ROOT:
                    raise ConfigError(f"data outside data.{DATA_ROOT} is not sent to OPA servers: {key}")
                try:
                    client.update_or_create_data(value, DATA_ROOT)
                except Exception as e:  # noqa: BLE001 - the client raises several kinds
                    raise ServerError(f"OPA at {url}: cannot store data.{DATA_ROOT}: {e}") from None

    def _entry(self, packages: list[str]) -> str:
        """The entry package for a rule set, uploaded to every server the first time it is needed."""
        from opa_client.errors import RegoParseError

        key = frozenset(packages)
        with self._lock:
            if key not in self._entries:
                package, source = entry_module(packages)
                for url, client in zip(self.urls, self._clients, strict=True):
                    try:
                        client.update_policy_from_string(source, f"{POLICY_PREFIX}/{package}.rego", rego_compat=False)
                    except (RegoParseError, OSError) as e:
                        raise ServerError(f"OPA at {url}: cannot upload the entry module: {e}") from None
                self._entries[key] = package
            return self._entries[key]

    # --- evaluation ----------------------------------------------------------------------------

    def evaluate(self, document: str, packages: list[str]) -> Results:
        return self.evaluate_many([(document, packages)])[0]

    def evaluate_many(self, requests: Sequence[Request]) -> list[Results]:
        entries = [self._entry(packages) if packages else "" for _, packages in requests]
        futures = [
            self._pool.submit(self._one, i % len(self._clients), json.loads(document), packages, entry)
            for i, ((document, packages), entry) in enumerate(zip(requests, entries, strict=True))
        ]
        return [f.result() for f in futures]

    def _one(self, server: int, document: dict, packages: list[str], entry: str) -> Results:
        if not packages:
            return {}
        answer = self._query(server, document, f"{entry}.results")
        if isinstance(answer, dict) and "result" in answer:
            return answer["result"]
        out: Results = {}  # the query failed: one rule erred; ask rule by rule
        for package in packages:
            single = self._query(server, document, f"{package}.deny")
            if isinstance(single, RuleError):
                out[package] = single
            else:
                out[package] = single.get("result", [])
        return out

    def _query(self, server: int, document: dict, path: str) -> dict | RuleError:
        """One Data API query (``POST /v1/data/<path>``); retries go to the next server.

        A rule that errs (OPA answers with an error other than 502/503/504) is a RuleError.
        """
        import requests

        package, _, rule = path.rpartition(".")
        attempt = 0
        while True:
            index = (server + attempt) % len(self._clients)
            url = self.urls[index]
            try:
                return self._clients[index].query_rule(
                    input_data=document, package_path=package, rule_name=rule, query_params=STRICT
                )
            except requests.HTTPError as e:
                status = e.response.status_code if e.response is not None else 0
                if status not in (502, 503, 504):
                    try:
                        message = e.response.json().get("message", str(e))
                    except (ValueError, AttributeError):
                        message = str(e)
                    # (OPA names a module by its policy id, govern/<file>: the file is what the user has)
                    return RuleError(f"OPA at {url}: {_POLICY_ID.sub(_FILE, message)}")
                problem = f"OPA at {url}: HTTP {status}"
            except (requests.ConnectionError, requests.Timeout) as e:
                problem = f"OPA at {url}: {type(e).__name__}"
            attempt += 1
            if attempt > RETRIES:
                raise ServerError(f"{problem}, after {RETRIES + 1} attempts")
            time.sleep(0.2 * attempt)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for client in self._clients:
            client.close_connection()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_local_server(binary: str) -> tuple[str, subprocess.Popen]:
    """``opa run --server`` on a free loopback port, ready to answer; the caller stops it."""
    port = free_port()
    process = subprocess.Popen(
        [binary, "run", "--server", "--addr", f"127.0.0.1:{port}", "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise ServerError(f"opa run --server stopped at once: {err.strip()[:500]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return url, process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise ServerError(f"opa run --server did not listen on {url} within 15 s")
