"""``--format junit``: JUnit XML for CI systems that show test results.

One test suite per product; a test case per rule with a finding on it (``<failure>`` when an open
one reaches ``--fail-on``, passing with the findings in ``<system-out>`` when the open ones are
below it, ``<skipped>`` when waived or in the baseline), plus a ``compliance`` case per product
that fails when one of its open findings reaches ``--fail-on`` and errors with an ``error``
verdict, so a product that passes the gate shows as passing tests. The run's own errors (the
report's ``errors``: what it could not see of the mesh) are one erring ``run`` case of a
``govern`` suite, so a test view never shows a green run that exited 3.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from engine.model import ENFORCEMENT_RANK, FAIL_ON, Finding, Report
from engine.report import clean


def _where(f: Finding) -> str:
    where = f.location.file or ""
    if f.location.line:
        where += f":{f.location.line}"
    return where


def render(report: Report, *, color: bool = False, fail_on: str = "blocking") -> str:
    """``fail_on``: the run's --fail-on; a finding fails its case (and its product's compliance
    case) when it would fail the run, so the test view agrees with the exit code."""
    threshold = FAIL_ON[fail_on]

    def failing(f: Finding) -> bool:
        return f.status == "open" and not f.baseline and ENFORCEMENT_RANK[f.enforcement] >= threshold

    root = ET.Element("testsuites", name=f"govern {report.run.command}")
    by_product: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_product.setdefault(f.product, []).append(f)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for p in report.products:
        suite = ET.SubElement(root, "testsuite", name=p.id)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        case = ET.SubElement(suite, "testcase", name="compliance", classname=p.id, file=p.source)
        counts["tests"] += 1
        if p.verdict == "error":
            ET.SubElement(case, "error", message="could not be evaluated", type="error").text = "\n".join(p.errors)
            counts["errors"] += 1
        elif any(failing(f) for f in by_product.get(p.id, [])):  # (those in the --baseline do not count)
            ET.SubElement(case, "failure", message=f"findings at or above --fail-on {fail_on} are open", type="fail")
            counts["failures"] += 1
        by_rule: dict[str, list[Finding]] = {}
        for f in by_product.get(p.id, []):
            by_rule.setdefault(f.rule, []).append(f)
        for rule, findings in sorted(by_rule.items()):
            case = ET.SubElement(suite, "testcase", name=f"{rule} {findings[0].title}", classname=p.id)
            counts["tests"] += 1
            counting = [f for f in findings if f.status == "open" and not f.baseline]
            if counting:
                text = "\n".join(f"{f.enforcement}: {_where(f)}: {f.message}\nfix: {f.remediation}" for f in counting)
                if any(failing(f) for f in counting):
                    first = next(f for f in counting if failing(f))
                    ET.SubElement(case, "failure", message=first.message, type=first.enforcement).text = text
                    counts["failures"] += 1
                else:  # (below --fail-on: shown, the case passing, as the run does)
                    ET.SubElement(case, "system-out").text = text
            else:
                ET.SubElement(case, "skipped", message="waived or in the baseline")
                counts["skipped"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    if report.errors:  # what the run itself could not do (a folder it could not list, say): one erring case
        suite = ET.SubElement(root, "testsuite", name="govern", tests="1", failures="0", errors="1", skipped="0")
        case = ET.SubElement(suite, "testcase", name="run", classname="govern")
        ET.SubElement(case, "error", message=report.errors[0], type="error").text = "\n".join(report.errors)
        totals["tests"] += 1
        totals["errors"] += 1
    for key, value in totals.items():
        root.set(key, str(value))
    for element in root.iter():  # mesh text may hold characters XML 1.0 cannot carry at all
        if element.text:
            element.text = clean(element.text)
        for key, value in element.attrib.items():
            element.set(key, clean(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
