"""``--format junit``: JUnit XML for CI systems that show test results.

One test suite per product; a test case per rule with a finding on it (``<failure>`` when a
blocking one is open, passing with the findings in ``<system-out>`` when only warning or advisory
ones are, ``<skipped>`` when waived or in the baseline), plus a ``compliance`` case per product that fails
with a ``fail`` verdict and errors with an ``error`` verdict, so a compliant product shows as one
passing test. The run's own errors (the report's ``errors``: what it could not see of the mesh) are
one erring ``run`` case of a ``govern`` suite, so a test view never shows a green run that exited 3.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from engine.model import Finding, Report
from engine.report import clean


def _where(f: Finding) -> str:
    where = f.location.file or ""
    if f.location.line:
        where += f":{f.location.line}"
    return where


def render(report: Report, *, color: bool = False) -> str:
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
        elif p.verdict == "fail" and any(
            f.status == "open" and f.enforcement == "blocking" and not f.baseline for f in by_product.get(p.id, [])
        ):  # (a fail whose blocking findings are all in the --baseline does not count, as for the exit code)
            ET.SubElement(case, "failure", message="blocking findings are open", type="fail")
            counts["failures"] += 1
        by_rule: dict[str, list[Finding]] = {}
        for f in by_product.get(p.id, []):
            by_rule.setdefault(f.rule, []).append(f)
        for rule, findings in sorted(by_rule.items()):
            case = ET.SubElement(suite, "testcase", name=f"{rule} {findings[0].title}", classname=p.id)
            counts["tests"] += 1
            counting = [f for f in findings if f.status == "open" and not f.baseline]
            if counting:
                text = "\n".join(f"{_where(f)}: {f.message}\nfix: {f.remediation}" for f in counting)
                if any(f.enforcement == "blocking" for f in counting):
                    ET.SubElement(case, "failure", message=counting[0].message, type=counting[0].enforcement).text = text
                    counts["failures"] += 1
                else:  # (a warning or advisory finding fails no gate: shown, the case passing)
                    ET.SubElement(case, "system-out").text = f"{counting[0].enforcement}: {text}"
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
