"""``--format sarif``: SARIF 2.1.0, as GitHub code scanning accepts it.

One run; the driver lists the rules applied (id, name, short and full description, help); each
finding is a result with its message, location (file relative to the repository, ``%SRCROOT%``,
percent-encoded; see :func:`source_root`), line), level
(blocking: error, warning: warning, advisory: note) and ``partialFingerprints`` (the finding's
fingerprint, so code scanning tracks it across runs). A waived finding carries a suppression with
its ticket and reason.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine import __version__
from engine.model import Finding, Report, RuleInfo

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"blocking": "error", "warning": "warning", "advisory": "note"}
# GitHub sorts alerts by security-severity (0.1-10) when it is present.
SECURITY_SEVERITY = {"critical": "9.5", "high": "7.5", "medium": "5.0", "low": "2.5", "info": "0.5"}


def _name(title: str) -> str:
    """A rule name in PascalCase (SARIF's reportingDescriptor.name), from its title."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title))


def _rule(rule: RuleInfo) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": _name(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {"text": rule.remediation, "markdown": f"**{rule.title}**\n\n{rule.description}\n\n**Fix:** {rule.remediation}"},
        "properties": {
            "category": rule.category,
            "severity": rule.severity,
            "security-severity": SECURITY_SEVERITY[rule.severity],
        },
    }


def source_root(start: Path | None = None) -> Path:
    """What ``%SRCROOT%`` stands for: the repository the run is made in (the nearest folder up from
    the current one holding ``.git``), else the current folder. Code scanning expects paths
    relative to the repository's root, wherever in it govern ran."""
    here = Path(os.path.abspath(start or Path.cwd()))
    return next((folder for folder in (here, *here.parents) if (folder / ".git").exists()), here)


def _artifact(file: str, root: Path) -> dict[str, Any]:
    """A file as SARIF's artifactLocation: a URI reference (percent-encoded) relative to the root,
    or an absolute file URI for a file outside it."""
    path = Path(os.path.abspath(file))
    if root != path and root not in path.parents:
        return {"uri": path.as_uri()}
    return {"uri": quote(path.relative_to(root).as_posix()), "uriBaseId": "%SRCROOT%"}


def _location(f: Finding, root: Path) -> dict[str, Any] | None:
    if not f.location.file:
        return None
    artifact = _artifact(f.location.file, root)
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if f.location.line:
        physical["region"] = {"startLine": f.location.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if f.location.path:
        location["logicalLocations"] = [{"fullyQualifiedName": f"{f.product}/{f.location.path}", "kind": "member"}]
    return location


def _result(f: Finding, index: dict[str, int], root: Path) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "level": LEVEL[f.enforcement],
        "message": {"text": f.message},
        "partialFingerprints": {"governFinding/v2": f.fingerprint},
        "properties": {"product": f.product, "domain": f.domain, "severity": f.severity, "enforcement": f.enforcement},
    }
    if f.resource is not None:
        result["properties"]["resource"] = f.resource
    if f.rule in index:
        result["ruleIndex"] = index[f.rule]
    location = _location(f, root)
    if location:
        result["locations"] = [location]
    if f.status == "waived" and f.waiver:
        reason = "; ".join(str(f.waiver[k]) for k in ("ticket", "reason") if f.waiver.get(k))
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": reason or "waived"}]
    if f.baseline:
        result["baselineState"] = "unchanged"
    return result


def render(report: Report, *, color: bool = False) -> str:
    rules = list(report.rules)
    index = {r.id: i for i, r in enumerate(rules)}
    errors = [*report.errors, *(e for p in report.products for e in p.named_errors())]
    root = source_root()
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "govern",
                "version": __version__,
                "rules": [_rule(r) for r in rules],
            }
        },
        "automationDetails": {"id": f"govern/{report.run.command}/{report.run.id}"},
        "invocations": [
            {
                "executionSuccessful": not errors,
                "toolExecutionNotifications": [{"level": "error", "message": {"text": e}} for e in errors],
            }
        ],
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri().rstrip("/") + "/"}},
        "results": [_result(f, index, root) for f in report.findings],
    }
    doc = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
