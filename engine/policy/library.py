"""The policy library: Rego modules under policies/, their packages and METADATA annotations.

Annotations are parsed here, in Python, because the embedded interpreter has no
``rego.metadata``. Conventions enforced on load (DESIGN, Policies):

- one rule per package, the package mirrors the file path (``global/naming/product_name.rego`` is
  ``package global.naming.product_name``), helpers live in ``global.lib.*``;
- a domain's modules (``policies/domains/<d>/``) declare packages under ``domains.<d>``;
- every rule package has a METADATA annotation with the fields of :class:`RuleMeta` and a
  ``deny`` rule; rule ids are unique.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from engine import cache
from engine.config import display, escaped, missing_folder, read_regular
from engine.errors import ConfigError, ConfigErrors, LoadError, reason
from engine.gather.yamlsrc import load_text, pydantic_errors
from engine.model import ParamSpec, RuleMeta

RULE_ID = re.compile(r"^(NAM|ACC|CLS|STD|CON|LIN)-\d{3}$")
# Each category's id prefix, and the folder of policies/global/ its council rules live in.
CATEGORIES = {
    "naming": ("NAM", "naming"),
    "access": ("ACC", "access"),
    "classification": ("CLS", "classification"),
    "standard-fields": ("STD", "standard_fields"),
    "contracts": ("CON", "contracts"),
    "lineage": ("LIN", "lineage"),
}
DOMAIN_RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*-\d{3}$")
# The keys of an annotation's custom block (a rule's fields beyond OPA's title and description).
CUSTOM_KEYS = ("id", "category", "severity", "enforcement", "override", "params", "effective_on", "remediation", "examples")


@dataclass
class Module:
    path: Path
    file: str  # as shown to users
    source: str
    package: str  # without the "data." prefix
    rules: dict[str, int]  # rule name -> first line
    package_line: int
    calls: list[tuple[str, int]] = field(default_factory=list)  # functions called, with their line
    reads_now: bool = False  # may read input.now (see scan)
    sets: list[str] = field(default_factory=list)  # rules every definition of which is `name contains ...`
    params_read: list[tuple[str, str, int]] = field(default_factory=list)  # input.params["ID"].name: ID, name, line


@dataclass
class Library:
    root: Path
    modules: list[Module] = field(default_factory=list)
    rules: list[RuleMeta] = field(default_factory=list)
    digest: str = ""
    problems: list[ConfigError] = field(default_factory=list)  # modules left out, and why

    def rule(self, rule_id: str) -> RuleMeta | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def rules_for(self, domain: str | None, categories: set[str] | None = None) -> list[RuleMeta]:
        """The global rules plus the domain's own, optionally only some categories."""
        return [
            r for r in self.rules if (r.domain is None or r.domain == domain) and (categories is None or r.category in categories)
        ]


def module_tree(name: str, text: str) -> str:
    """The syntax tree of one module, as regorus gives it (``get_ast_as_json``: a list of one entry)."""
    from engine.backends.embedded import new_engine

    engine = new_engine()
    engine.add_policy(name, text)
    return str(engine.get_ast_as_json())


def parse_modules(
    paths: list[tuple[Path, str]],
    problems: list[ConfigError] | None = None,
    contents: dict[Path, bytes | OSError] | None = None,
) -> list[Module]:
    """Parse Rego files with the embedded interpreter (each in a child process: see
    engine/policy/isolated.py); a syntax error names file:line.

    With ``problems``, a file that cannot be parsed is recorded there and left out; without, it
    raises. ``contents`` holds the files' bytes when they were read already (or why they could not be).
    """
    from engine.policy.isolated import syntax_trees

    read: list[tuple[Path, str, str]] = []
    for path, shown in paths:
        try:
            try:
                data = contents[path] if contents is not None else read_regular(path)
                if isinstance(data, OSError):
                    raise data
                read.append((path, shown, source_text(data, shown)))
            except OSError as e:
                raise ConfigError(f"cannot read policy: {reason(e)}", shown) from None
        except ConfigError as e:
            if problems is None:
                raise
            problems.append(e)
    sources: dict[str, tuple[Path, str]] = {}
    entries: list[dict] = []
    for (path, shown, text), tree in zip(read, syntax_trees([(s, t) for _, s, t in read], module_tree, rego_error), strict=True):
        if isinstance(tree, ConfigError):
            if problems is None:
                raise tree
            problems.append(tree)
            continue
        sources[shown] = (path, text)
        entries.extend(tree)
    modules = []
    looping = recursive(entries)
    if looping and problems is None:
        raise looping[0]
    for entry in entries:
        shown = entry["source"]["file"]
        if any(e.file == shown for e in looping):
            continue
        ast = entry["ast"]
        pkg, line = ref_name(ast["package"]["refr"]), ast["package"]["span"]["line"]
        path, text = sources[shown]
        calls, now, params = scan(ast)
        module = Module(path, shown, text, pkg.removeprefix("data."), rule_names(ast), line, calls, now, set_rules(ast), params)
        modules.append(module)
    if problems is not None:
        problems.extend(looping)
    return modules


_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MULTILINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def recursive(entries: list[dict]) -> list[ConfigError]:
    """The functions of the modules (``get_ast_as_json`` entries) that call themselves, directly or
    through others, one error per cycle at the first definition of one of its functions. Rego has no
    recursion (OPA refuses it when it compiles), and the embedded interpreter follows it until its
    stack overflows, which ends the process: such modules must never be evaluated.

    Only calls are followed (``f(x)``, and ``with g as f``, which calls f): a local name, an import's
    alias or a ``data.`` reference, resolved as the module's scope resolves it."""
    import networkx as nx

    graph: nx.DiGraph = nx.DiGraph()
    defined: dict[str, tuple[str, int]] = {}  # function -> (file, line) of its first definition
    scopes = []
    for entry in entries:
        ast, shown = entry["ast"], entry["source"]["file"]
        package = ref_name(ast["package"]["refr"]).removeprefix("data.")
        local = {name for name, kind, _ in _heads(ast) if kind == "Func"}
        for name, kind, line in _heads(ast):
            if kind == "Func":
                defined.setdefault(f"{package}.{name}", (shown, line))
        aliases = {}
        for imported in ast.get("imports", []):
            path = ref_name(imported["refr"])
            if not path.startswith("data."):
                continue
            span = imported.get("as")
            alias = _ALIAS.search(entry["source"]["contents"].splitlines()[span["line"] - 1][span["col"] - 1 :]) if span else None
            aliases[alias.group(0) if alias else path.rsplit(".", 1)[-1]] = path.removeprefix("data.")
        scopes.append((ast, package, local, aliases))
    if not defined:
        return []
    for ast, package, local, aliases in scopes:

        def resolve(name: str, package: str = package, local: set[str] = local, aliases: dict[str, str] = aliases) -> str:
            head, _, rest = name.partition(".")
            if not rest:
                return f"{package}.{name}" if name in local else name
            if head == "data":
                return rest
            return f"{aliases[head]}.{rest}" if head in aliases else name

        for rule in ast.get("rules", []):
            spec = rule.get("Spec")
            if not spec:
                continue
            head = spec["head"]
            kind = next((k for k in ("Compr", "Set", "Func") if k in head), None)
            caller = f"{package}.{ref_name(head[kind]['refr'])}" if kind else None
            for callee, line in scan(rule)[0]:
                target = resolve(callee)
                if caller and target in defined:
                    graph.add_edge(caller, target, line=line)
    problems = []
    for component in nx.strongly_connected_components(graph):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        cycle = [start] + [v for _, v in nx.find_cycle(graph.subgraph(component), source=start)]
        shown, line = defined[start]
        chain = " -> ".join(f"data.{f}" for f in cycle)
        why = f"invalid Rego: function data.{start} is recursive ({chain}): Rego has no recursion"
        problems.append(ConfigError(why, shown, line))
    return sorted(problems, key=lambda e: (e.file or "", e.line or 0))


def source_text(data: bytes, shown: str) -> str:
    """A policy file's text: UTF-8, with line ends made ``\\n`` (as reading it as text does);
    bytes that are not UTF-8 are an error at their line."""
    from engine.gather.yamlsrc import decode

    try:
        return decode(data, shown).replace("\r\n", "\n").replace("\r", "\n")
    except LoadError as e:
        raise ConfigError(f"cannot read policy: {e.message}", shown, e.line) from None


def scan(ast: object) -> tuple[list[tuple[str, int]], bool, list[tuple[str, str, int]]]:
    """What a module's AST calls, whether it may read the input document's ``now``, and the
    parameters it reads by name (``input.params["ID"].name``: ID, name, line), in one pass.

    The calls are every function call (builtins and user functions alike) with its line, and every
    function put in another's place by ``with`` (a name it replaces something with, at least). A module
    may read ``now`` when it refers to ``input.now`` or ``input["now"]``, or to ``input`` other than
    through a constant field (``input.x``, ``input["x"]``, ``object.get(input, "x", default)``):
    ``input[k]``, ``import input`` or ``walk(input)`` could reach any field. engine/memo.py leaves
    ``now`` out of a result's key when no module reads it."""
    found: list[tuple[str, int]] = []
    params_read: list[tuple[str, str, int]] = []
    uses = fields = 0
    stack = [ast]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            var = item.get("Var")
            if isinstance(var, dict) and var.get("value") == "input":
                uses += 1
            ref = item.get("RefDot") or item.get("RefBrack")
            if isinstance(ref, dict):
                name = ref["field"][1] if "field" in ref else _string(ref.get("index"))
                if _is_input(ref.get("refr")):
                    fields += isinstance(name, str) and name != "now"
                elif (read := _param_read(ref, name)) is not None:
                    params_read.append(read)
            call = item.get("Call")
            if isinstance(call, dict) and isinstance(call.get("fcn"), dict):
                function = ref_name(call["fcn"])
                if function:
                    found.append((function, call["span"]["line"]))
                params = call.get("params", [])
                if function == "object.get" and len(params) == 3:
                    name = _string(params[1])
                    fields += _is_input(params[0]) and isinstance(name, str) and name != "now"
            # ``with f as g`` calls g wherever the body calls f: g is called too
            for mod in item.get("with_mods") or []:
                replacement = mod.get("as") if isinstance(mod, dict) else None
                if isinstance(replacement, dict) and ("RefDot" in replacement or "Var" in replacement):
                    function = ref_name(replacement)
                    if function:
                        found.append((function, mod["span"]["line"]))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(set(found), key=lambda c: (c[1], c[0])), uses > fields, sorted(params_read, key=lambda read: read[2])


_DECLARES = re.compile(r"^#\s*id:\s*[\"']?(?P<id>[A-Za-z][A-Za-z0-9]*-[0-9]+)[\"']?\s*(?:#.*)?$", re.MULTILINE)


def left_out(library: Library) -> dict[str, str]:
    """The rule ids the modules left out of the library declare in their METADATA, with their file
    (a configuration naming one is told why it is missing, not only that it is)."""
    found: dict[str, str] = {}
    for problem in library.problems:
        try:  # (read_regular: a problem's file may be a named pipe, which read_text would wait on for ever)
            text = read_regular(Path(problem.file)).decode("utf-8", errors="replace") if problem.file else ""
        except OSError:
            continue
        for declared in _DECLARES.finditer(text):
            found.setdefault(declared.group("id").upper(), problem.file)  # type: ignore[arg-type]
    return found


def _param_read(ref: dict, name: object) -> tuple[str, str, int] | None:
    """A reference ``input.params["ID"].name`` (or ``["name"]``) as (ID, name, line), else None."""
    rule = ref["refr"].get("RefBrack") if isinstance(ref.get("refr"), dict) else None
    if not isinstance(name, str) or not isinstance(rule, dict) or not isinstance(_string(rule.get("index")), str):
        return None
    params = rule.get("refr")
    dot = params.get("RefDot") if isinstance(params, dict) else None
    if isinstance(dot, dict) and dot.get("field", [None, None])[1] == "params" and _is_input(dot.get("refr")):
        return _string(rule["index"]), name, ref["span"]["line"]  # type: ignore[return-value]
    return None


def _is_input(ref: object) -> bool:
    return isinstance(ref, dict) and isinstance(ref.get("Var"), dict) and ref["Var"].get("value") == "input"


def _string(node: object) -> str | None:
    """The value of a string literal node, else None."""
    literal = node.get("String") if isinstance(node, dict) else None
    return literal.get("value") if isinstance(literal, dict) else None


_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")


def rego_error(message: str, shown: str) -> ConfigError:
    """A regorus error (``--> file:line:col`` then a caret picture) as a one-line ConfigError."""
    m = _LOCATION.search(message)
    lines = [ln.strip() for ln in message.splitlines() if ln.strip().startswith("error:")]
    text = lines[0].removeprefix("error:").strip().rstrip(":") if lines else message.strip().splitlines()[-1]
    return ConfigError(f"invalid Rego: {text}", m.group("file") if m else shown, int(m.group("line")) if m else None)


def ref_name(ref: dict) -> str:
    parts = []
    while "RefDot" in ref:
        parts.append(ref["RefDot"]["field"][1])
        ref = ref["RefDot"]["refr"]
    if "Var" not in ref:
        return ""
    parts.append(ref["Var"]["value"])
    return ".".join(reversed(parts))


def _heads(ast: dict) -> Iterator[tuple[str, str, int]]:
    """Each rule definition's name, head kind (Compr, Set or Func) and line."""
    for rule in ast.get("rules", []):
        spec = rule.get("Spec")
        if not spec:
            continue
        head = spec["head"]
        for kind in ("Compr", "Set", "Func"):
            if kind in head:
                name = ref_name(head[kind]["refr"]).split(".")[0]
                if name:
                    yield name, kind, spec["span"]["line"]


def definitions(ast: dict) -> Iterator[tuple[str, int]]:
    """Each rule definition's name and line (a rule defined twice, twice)."""
    for name, _, line in _heads(ast):
        yield name, line


def rule_names(ast: dict) -> dict[str, int]:
    names: dict[str, int] = {}
    for name, _, line in _heads(ast):
        names.setdefault(name, line)
    return names


def set_rules(ast: dict) -> list[str]:
    """The rules defined only as partial sets (``deny contains f if ...``)."""
    kinds: dict[str, set[str]] = {}
    for name, kind, _ in _heads(ast):
        kinds.setdefault(name, set()).add(kind)
    return sorted(name for name, found in kinds.items() if found == {"Set"})


def _annotation(module: Module) -> tuple[str, int] | None:
    """The YAML text of the ``# METADATA`` block on the package, and the line of ``# METADATA``."""
    lines = module.source.splitlines()
    end = module.package_line - 1  # index of the package line
    start = end
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    block = lines[start:end]
    for i, text in enumerate(block):
        if text.strip() == "# METADATA":
            return "\n".join(_uncomment(t) for t in block[i + 1 :]), start + i + 1
    return None


def metadata(module: Module) -> tuple[dict | None, int]:
    """The ``# METADATA`` block on the package, as YAML data, and its first line."""
    found = _annotation(module)
    if found is None:
        return None, module.package_line
    body, first = found
    try:
        # (as every governance file is read: duplicate keys, alias bombs and the like are errors)
        # (after as many empty lines as precede the block, so lines in messages are the file's)
        data = load_text("\n" * first + body, module.file).data if body.strip() else None
    except LoadError as e:
        raise ConfigError(f"invalid METADATA annotation: {e.message}", module.file, e.line or first) from None
    if not isinstance(data, dict):
        raise ConfigError("the METADATA annotation must be a YAML mapping", module.file, first)
    return data, first


def _line_in_annotation(module: Module, keys: list[str]) -> int | None:
    """The line of the annotation's key at ``keys`` (``["custom", "id"]``), when it is written there."""
    import yaml

    found = _annotation(module)
    if found is None:
        return None
    body, first = found
    node = yaml.compose(body, Loader=yaml.CSafeLoader)  # (the block was read as YAML already)
    line = None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return line
        match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        if match is None:
            return line
        line, node = first + 1 + match[0].start_mark.line, match[1]
    return line


def _uncomment(line: str) -> str:
    text = line.lstrip()[1:]
    return text[1:] if text.startswith(" ") else text


def outside_domain(package: str, domain: str, what: str) -> str | None:
    """Why ``package`` may not be declared by a domain's ``what`` (policies, tests), if it may not."""
    if package.startswith(f"domains.{domain}."):
        return None
    return f"package {package} is outside domains.{domain}: a domain's {what} may only declare packages under domains.{domain}"


def _check_mirrors(module: Module, rel: Path) -> None:
    parts = rel.with_suffix("").parts
    odd = next((p for p in parts if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p)), None)
    if odd is not None:  # (no package can mirror it: name-length would be global.naming.name-length)
        raise ConfigError(
            f"{odd!r} in the file's path is no Rego name (letters, digits and _), so no package can mirror it:"
            f" rename it, e.g. {re.sub(r'[^A-Za-z0-9_]', '_', odd)!r}",
            module.file,
            module.package_line,
        )
    expected = ".".join(parts)
    if module.package != expected:
        raise ConfigError(
            f"package {module.package} does not mirror its file path: expected package {expected}",
            module.file,
            module.package_line,
        )


def load_library(root: Path) -> Library:
    """Load every ``*.rego`` below ``root`` (tests excluded) and check the conventions.

    A module that breaks them is left out and recorded in ``problems``: ``govern validate`` lists
    them all, and ``check`` refuses to evaluate while there are any. What this finds depends only on
    the files (their names and contents), govern's code and the Rego engine, so it is kept in the
    cache (engine/cache.py) under a digest of all of them.
    """
    if not root.is_dir():
        raise missing_folder("policy folder", root, "--policies")
    # Global modules first: when a domain module collides with one (same package or rule id), the
    # domain's is the one left out and reported.
    files = sorted(
        (p for p in root.rglob("*.rego") if not p.name.endswith("_test.rego")),
        key=lambda p: (p.relative_to(root).parts[0] != "global", p),
    )
    if not files:
        raise ConfigError(f"no Rego policies in {display(root)}")
    text_names(files)
    shown = [(p, display(p)) for p in files]
    contents = {p: _read(p) for p in files}
    digest = cache.key(
        "library",
        *(f"{p.relative_to(root).as_posix()}\0{name}" for p, name in shown),
        *(data if isinstance(data, bytes) else f"\0{data}" for data in contents.values()),
    )
    stored = cache.get("library", digest)
    if stored is not None:
        try:
            return _from_cache(root, stored, contents)
        except (KeyError, TypeError, ValueError, ValidationError):
            pass  # damaged: derive it again
    library = _load(root, shown, contents)
    cache.put("library", digest, _to_cache(library, root))
    return library


def text_names(files: list[Path]) -> list[Path]:
    """``files``, when every name is UTF-8 (a module is named by its file in findings and reports)."""
    for path in files:
        shown = escaped(display(path))
        if shown is not None:
            raise ConfigError("the name of this policy file is not UTF-8: rename it", shown)
    return files


def _read(path: Path) -> bytes | OSError:
    try:
        return read_regular(path)
    except OSError as e:
        return e


def _load(root: Path, shown: list[tuple[Path, str]], contents: dict[Path, bytes | OSError]) -> Library:
    library = Library(root=root)
    modules = parse_modules(shown, library.problems, contents)
    seen_packages: dict[str, str] = {}
    seen_ids: dict[str, str] = {}
    for module in modules:
        try:
            meta = _check_module(module, root, seen_packages, seen_ids)
        except ConfigError as e:
            library.problems.extend(e.problems if isinstance(e, ConfigErrors) else [e])
            continue
        library.modules.append(module)
        if meta is not None:
            library.rules.append(meta)
    _check_regex_defaults(library)
    _check_functions(library)
    _check_evaluation(library)
    digest = hashlib.sha256()
    for module in sorted(library.modules, key=lambda m: m.file):
        digest.update(module.path.relative_to(root).as_posix().encode() + b"\0" + module.source.encode() + b"\0")
    library.digest = "sha256:" + digest.hexdigest()
    library.rules.sort(key=lambda r: (r.domain or "", r.id))
    return library


def _check_regex_defaults(library: Library) -> None:
    """Leave out the rules whose ``format: regex`` parameter has a default the rules' regex builtins
    cannot compile (with ``{domain}`` replaced, as the rules replace it): every product would
    otherwise end in error; or that matches a value its ``rejects`` lists (the default is held to
    the council's limits, as a domain's value is)."""
    defaults = []
    for meta in library.rules:
        for name, spec in meta.params.items():
            if spec.format == "regex":
                rejects = [_for_domain(value, meta) for value in spec.rejects or []]
                defaults.append((meta, name, _for_domain(spec.default, meta), rejects))
    if not defaults:
        return
    from engine.backends.embedded import invalid_regexes, regex_matches

    invalid = invalid_regexes({pattern for _, _, pattern, _ in defaults})
    matched = regex_matches({(p, v) for _, _, p, rejects in defaults if p not in invalid for v in rejects})
    for meta, name, pattern, rejects in defaults:
        taken = [v for v in rejects if (pattern, v) in matched]
        if (pattern not in invalid and not taken) or meta not in library.rules:
            continue
        module = next(m for m in library.modules if m.package == meta.package)
        where = _line_in_annotation(module, ["custom", "params", name]) or meta.line
        default = meta.params[name].default
        why = (
            "is not a valid regular expression"
            if pattern in invalid
            else f"matches {', '.join(json.dumps(v) for v in taken)}, which its rejects lists"
        )
        library.problems.append(
            ConfigError(f"invalid METADATA annotation: custom.params.{name}: default {default!r} {why}", module.file, where)
        )
        _leave_out(library, module)


def _for_domain(value: str, meta: RuleMeta) -> str:
    """A regex parameter's value (or a value it rejects) as the rule's products meet it: {domain}
    replaced by the rule's domain, or, for a global rule, by a stand-in one."""
    return value.replace("{domain}", meta.domain or "domain")


def _leave_out(library: Library, module: Module) -> None:
    """Leave a module out of the library, with the rule of its package (a problem says why)."""
    library.modules.remove(module)
    library.rules = [meta for meta in library.rules if meta.package != module.package]


def _check_functions(library: Library) -> None:
    """Leave out the rules that call a function the embedded engine does not have (a builtin of
    OPA's it lacks, a misspelt name): evaluating them would end in error for every product, and
    only when an input reaches the call."""
    from engine.backends.embedded import unknown_functions

    entries = {f"data.{meta.package}.deny": meta for meta in library.rules}
    found = unknown_functions([(m.file, m.source) for m in library.modules], list(entries))
    reported: set[tuple[str, str | None, int | None]] = set()
    for entry, (name, error) in found.items():
        meta = entries[entry]
        at = rego_error(error, meta.file)  # (the call's file and line: a helper's, maybe)
        if (name, at.file, at.line) not in reported:  # (a helper's call, once for all the rules using it)
            reported.add((name, at.file, at.line))
            message = f"calls {name}, which is neither a function of the library nor a builtin of the embedded engine"
            library.problems.append(ConfigError(message, at.file, at.line))
        _leave_out(library, next(m for m in library.modules if m.package == meta.package))


def _check_evaluation(library: Library) -> None:
    """Leave out the modules whose rules the interpreter cannot evaluate at all (see
    engine.backends.embedded.failing), each error reported once where it points; again without
    them, until every rule left evaluates: an error in one module (a ``with`` replacing a function
    by nothing) can stop every rule of the library."""
    from engine.backends.embedded import RAN_TOO_LONG, failing

    reported: set[tuple[str, str | None, int | None]] = set()
    while library.rules:
        entries = {f"data.{meta.package}.deny": meta for meta in library.rules}
        found = failing([(m.file, m.source) for m in library.modules], list(entries))
        if not found:
            return
        culprits = set()
        for entry, error in found.items():
            meta = entries[entry]
            if error == RAN_TOO_LONG:  # (valid Rego that never ends: at its deny, not "invalid Rego" of the file)
                module = next(m for m in library.modules if m.package == meta.package)
                at = ConfigError(error, meta.file, module.rules.get("deny"))
            else:
                at = rego_error(error, meta.file)
            if (at.message, at.file, at.line) not in reported:
                reported.add((at.message, at.file, at.line))
                library.problems.append(at)
            culprits.add(at.file if any(m.file == at.file for m in library.modules) else entries[entry].file)
        for module in [m for m in library.modules if m.file in culprits]:
            _leave_out(library, module)


def _to_cache(library: Library, root: Path) -> dict:
    return {
        "modules": [
            {
                "path": m.path.relative_to(root).as_posix(),
                "file": m.file,
                "package": m.package,
                "rules": m.rules,
                "package_line": m.package_line,
                "calls": m.calls,
                "reads_now": m.reads_now,
                "sets": m.sets,
                "params_read": m.params_read,
            }
            for m in library.modules
        ],
        # Python values: a library whose metadata JSON cannot hold exactly (a date) is not cached
        "rules": [r.model_dump() for r in library.rules],
        "digest": library.digest,
        "problems": [[p.message, p.file, p.line] for p in library.problems],
    }


def _from_cache(root: Path, stored: dict, contents: dict[Path, bytes | OSError]) -> Library:
    modules = []
    for m in stored["modules"]:
        path = root / m["path"]
        source = contents[path]
        if not isinstance(source, bytes):
            raise ValueError(f"{path} is unreadable now")
        modules.append(
            Module(
                path,
                m["file"],
                source_text(source, m["file"]),
                m["package"],
                m["rules"],
                m["package_line"],
                [(name, line) for name, line in m["calls"]],
                bool(m["reads_now"]),
                list(m["sets"]),
                [(rule, name, line) for rule, name, line in m["params_read"]],
            )
        )
    return Library(
        root=root,
        modules=modules,
        rules=[RuleMeta.model_validate(r) for r in stored["rules"]],
        digest=stored["digest"],
        problems=[ConfigError(message, file, line) for message, file, line in stored["problems"]],
    )


def _check_module(module: Module, root: Path, seen_packages: dict[str, str], seen_ids: dict[str, str]) -> RuleMeta | None:
    """The conventions of one module; its rule metadata, or None for a helper module."""
    domain = _check_namespace(module, module.path.relative_to(root))
    if module.package in seen_packages:
        raise ConfigError(
            f"package {module.package} is already declared in {seen_packages[module.package]}: one rule per package",
            module.file,
            module.package_line,
        )
    seen_packages[module.package] = module.file
    if module.package.startswith("global.lib.") or module.package == "global.lib":
        data, _ = metadata(module)
        custom = (data or {}).get("custom")
        declares = isinstance(custom, dict) and "id" in custom
        if declares or "deny" in module.rules:  # (it would never be evaluated)
            raise ConfigError(
                "policies/global/lib/ holds helpers, which are never evaluated as rules: a rule (custom.id, a deny)"
                " lives in policies/global/<category>/",
                module.file,
                _line_in_annotation(module, ["custom", "id"]) if declares else module.rules["deny"],
            )
        return None
    meta = _rule_meta(module, domain)
    if domain is None:
        _check_category(module, meta, module.path.relative_to(root))
    for rule, name, line in module.params_read:  # (never set, it is undefined: the rule finds nothing, silently)
        if rule == meta.id and name not in meta.params:
            raise ConfigError(
                f"{meta.id} reads its parameter {name!r}, which its METADATA does not declare (custom.params): the input"
                " document has no value for it, and the statement reading it never holds",
                module.file,
                line,
            )
    if meta.id in seen_ids:
        first = seen_ids[meta.id]
        raise ConfigError(
            f"rule id {meta.id} is also that of {first}: an id is never reused (this module is left out; give one of"
            " them a new id)",
            module.file,
            _line_in_annotation(module, ["custom", "id"]) or meta.line,
        )
    seen_ids[meta.id] = module.file
    return meta


def _check_category(module: Module, meta: RuleMeta, rel: Path) -> None:
    """A council rule lives in the folder of its category, and its id has the category's prefix,
    so that the catalog, ``--category`` and the ids agree (NAM-005 in policies/global/naming/)."""
    prefix, folder = CATEGORIES[meta.category]
    if rel.parts[1:-1] != (folder,):
        raise ConfigError(
            f"a council rule of category {meta.category} lives in policies/global/{folder}/ (package"
            f" global.{folder}.<rule>), not in policies/{rel.parent.as_posix()}/",
            module.file,
            _line_in_annotation(module, ["custom", "category"]) or module.package_line,
        )
    if not meta.id.startswith(prefix + "-"):
        raise ConfigError(
            f"rule id {meta.id!r} of category {meta.category} must have its category's prefix: {prefix}-<nnn>",
            module.file,
            _line_in_annotation(module, ["custom", "id"]) or meta.line,
        )


def _check_namespace(module: Module, rel: Path) -> str | None:
    """The domain a module belongs to (None for global ones); reject packages outside their place."""
    top = rel.parts[0]
    if top == "domains" and len(rel.parts) > 2:
        domain = rel.parts[1]
        outside = outside_domain(module.package, domain, "policies")
        if outside:
            raise ConfigError(outside, module.file, module.package_line)
        _check_mirrors(module, rel)
        return domain
    if top == "global":
        _check_mirrors(module, rel)
        return None
    raise ConfigError(
        "policies live in policies/global/<category>/ or policies/domains/<domain>/", module.file, module.package_line
    )


def domain_prefix(domain: str) -> str:
    """The prefix of a domain's rule ids: its name in capitals, letters and digits only (ORDERS, CUSTOMER360)."""
    return re.sub(r"[^A-Z0-9]", "", domain.upper())


def _rule_meta(module: Module, domain: str | None) -> RuleMeta:
    data, line = metadata(module)
    if data is None:
        why = "a rule package needs a # METADATA annotation with custom.id"
        if re.search(r"^\s*#\s*METADATA\s*$", module.source, re.M):  # (written, but not where OPA reads it)
            why += ": its comment block must be '# METADATA' and then the annotation, right above the package line"
        elif domain is None and not module.package.startswith("global.lib"):
            why += " (a module of helpers belongs in policies/global/lib/)"
        raise ConfigError(why, module.file, module.package_line)
    if "deny" not in module.rules:
        raise ConfigError("a rule package must define 'deny contains ...'", module.file, module.package_line)
    if "deny" not in module.sets:  # (deny := ..., deny if ...: no finding could come of it)
        raise ConfigError("'deny' must be a set of findings: define it as 'deny contains ...'", module.file, module.rules["deny"])
    custom = data.get("custom") or {}
    if not isinstance(custom, dict):
        raise ConfigError("METADATA 'custom' must be a mapping", module.file, line)
    # Every problem of the annotation at once, each at its key, as deep as it is written
    # (custom.params.n.maximum, else custom.params.n; the nearest one written, custom, for a
    # missing field).
    problems: list[ConfigError] = []

    def problem(keys: list[str], message: str) -> None:
        where = _line_in_annotation(module, keys) or line
        problems.append(ConfigError(f"invalid METADATA annotation: {'.'.join(keys)}: {message}", module.file, where))

    for key in custom:
        if key not in CUSTOM_KEYS:  # (a misspelt key would silently do nothing: "enforcment: advisory")
            problem(["custom", str(key)], f"unknown key (known: {', '.join(CUSTOM_KEYS)})")
    examples = custom.get("examples")
    if isinstance(examples, dict):
        for key in examples:
            if key not in ("fail", "pass"):  # (a misspelt fial: would be shown by explain and left off the standards page)
                problem(["custom", "examples", str(key)], "unknown key (known: fail, pass)")
        examples = {k: v for k, v in examples.items() if k in ("fail", "pass")}
    fields = {
        **{k: v for k, v in custom.items() if k in RuleMeta.model_fields},
        "title": data.get("title"),
        "description": data.get("description"),
        "package": module.package,
        "file": module.file,
        "line": module.package_line,
        "domain": domain,
    }
    if "examples" in custom:
        fields["examples"] = examples
    if "effective_on" in fields and fields["effective_on"] is not None:
        fields["effective_on"] = str(fields["effective_on"])
    try:
        meta = RuleMeta.model_validate(fields)
    except ValidationError as e:
        for loc, message in pydantic_errors(e):
            keys = [str(p) for p in loc] or [""]
            if message == "Extra inputs are not permitted" and len(keys) == 3 and keys[0] == "params":
                message = f"unknown key (known: {', '.join(ParamSpec.model_fields)})"  # (maxItems: 3)
            problem(keys if keys[0] in ("title", "description") else ["custom", *keys], message)
    if problems:
        raise ConfigErrors(sorted(problems, key=lambda p: p.line or 0))
    if _MULTILINE.search(meta.title):
        # (a title is a cell of the catalog's line: one with a line break in it could print a line
        # of its own there, such as another rule's with other settings)
        where = _line_in_annotation(module, ["title"]) or line
        raise ConfigError(
            "invalid METADATA annotation: title: must be one line, without line breaks or control characters", module.file, where
        )
    pattern = DOMAIN_RULE_ID if domain else RULE_ID
    if not pattern.match(meta.id):
        expected = "<DOMAIN>-<nnn>" if domain else "<CAT>-<nnn> with CAT one of NAM, ACC, CLS, STD, CON, LIN"
        where = _line_in_annotation(module, ["custom", "id"]) or line
        raise ConfigError(f"rule id {meta.id!r} is not of the form {expected}", module.file, where)
    if domain and RULE_ID.match(f"{domain_prefix(domain)}-000"):
        # (a domain named like a category, con: its prefix is the council's)
        where = _line_in_annotation(module, ["custom", "id"]) or line
        raise ConfigError(
            f"rule id {meta.id!r} of domain {domain} would pass for a council rule's: a domain whose name is a category"
            " prefix (NAM, ACC, CLS, STD, CON, LIN) cannot have rules of its own",
            module.file,
            where,
        )
    if domain and meta.id.rsplit("-", 1)[0] != domain_prefix(domain):
        # (else a domain could take another domain's ids, or look like a council rule: NAM-050)
        where = _line_in_annotation(module, ["custom", "id"]) or line
        raise ConfigError(
            f"rule id {meta.id!r} of domain {domain} must use the domain as prefix: {domain_prefix(domain)}-<nnn>",
            module.file,
            where,
        )
    return meta
