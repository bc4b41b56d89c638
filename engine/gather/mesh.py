"""A mesh: every descriptor and contract below a folder, linked by ids, with its lineage graph.

Discovery is by file name: ``dataproduct.yaml|yml`` (native), ``*.odps.yaml|yml`` (ODPS) and
``*.odcs.yaml|yml`` (contracts). A file that cannot be loaded is kept as a failure with its reason;
it never stops the rest of the mesh from loading.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engine.config import display, escaped
from engine.errors import LoadError
from engine.gather.contracts import LoadedContract
from engine.gather.descriptors import DESCRIPTOR_NAMES, ODPS_SUFFIXES, LoadedProduct
from engine.gather.files import load_one
from engine.model import (
    ColumnLineage,
    ColumnSource,
    DanglingSource,
    DownstreamFact,
    InputPort,
    Lineage,
    SchemaObject,
    UpstreamFact,
)
from engine.parallel import Workers

if TYPE_CHECKING:
    import networkx as nx

    from engine.gather.imported import ImportedEdge

CONTRACT_SUFFIXES = (".odcs.yaml", ".odcs.yml")
T = TypeVar("T")


def file_kind(path: Path) -> str | None:
    """``product``, ``contract`` or None, from the file name alone."""
    return kind_of_name(path.name)


def kind_of_name(name: str) -> str | None:
    name = name.lower()
    if name in DESCRIPTOR_NAMES or name.endswith(ODPS_SUFFIXES):
        return "product"
    if name.endswith(CONTRACT_SUFFIXES):
        return "contract"
    return None


def skipped_folder(name: str) -> bool:
    """Whether discovery leaves out a folder of this name: hidden, ``__*`` and node_modules folders."""
    return name.startswith((".", "__")) or name == "node_modules"


def discover(root: Path, unreadable: list[tuple[str, str]] | None = None) -> tuple[list[Path], list[Path]]:
    """Descriptor files and contract files below ``root`` (hidden folders skipped, links not followed);
    what it leaves unchecked is added to ``unreadable`` (see :func:`scan_folder`)."""
    products: list[Path] = []
    contracts: list[Path] = []
    for entry, kind in walk_files(root, unreadable):
        (products if kind == "product" else contracts).append(Path(entry.path))
    return products, contracts


def walk_files(root: Path, unreadable: list[tuple[str, str]] | None = None) -> Iterator[tuple[os.DirEntry[str], str]]:
    """Every descriptor and contract below ``root`` with its kind: each folder's files by name, then
    its subfolders by name, as os.walk goes; hidden folders, ``__*`` and node_modules skipped, and
    links to folders not followed. A scandir loop rather than os.walk: the entries it gives save a
    system call per folder and carry each file's stat for the mesh index."""
    stack = [str(root)]
    while stack:
        listing = scan_folder(stack.pop(), unreadable)
        if listing is not None:
            files, subfolders = listing
            yield from files
            stack.extend(reversed(subfolders))


def scan_folder(
    folder: str, unreadable: list[tuple[str, str]] | None = None
) -> tuple[list[tuple[os.DirEntry[str], str]], list[str]] | None:
    """One folder of :func:`walk_files`: its descriptors and contracts with their kinds, and the
    subfolders discovery goes into, both by name; None when it cannot be listed. What goes
    unchecked is added to ``unreadable`` with why, which a run must say: the folder when it cannot
    be listed, and a descriptor, contract or subfolder whose name is not UTF-8 (no report, index
    or JSON document can hold it)."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as e:
        if unreadable is not None:
            unreadable.append((folder, f"cannot list this folder of the mesh ({e.strerror or e}): what it holds was not checked"))
        return None
    files: list[tuple[os.DirEntry[str], str]] = []
    subfolders: list[str] = []
    for entry in entries:
        name = entry.name
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        kind = None if is_dir else kind_of_name(name)
        if (entry.is_symlink() or skipped_folder(name)) if is_dir else kind is None:
            continue  # (not a folder discovery goes into, nor a descriptor or contract)
        shown = escaped(entry.path)
        if shown is not None:
            if unreadable is not None:
                unreadable.append((shown, "its name is not UTF-8, which no report can hold: it was not checked"))
        elif kind is None:
            subfolders.append(entry.path)
        else:
            files.append((entry, kind))
    return files, subfolders


@dataclass
class Failure:
    """A file that could not be loaded."""

    path: Path
    error: LoadError
    declares: str | None = None  # the id it declares, when it loaded but another file has that id


@dataclass
class Mesh:
    root: Path
    products: list[LoadedProduct] = field(default_factory=list)
    contracts: dict[str, LoadedContract] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # what discovery left unchecked, and why (scan_folder)
    # Of the products check_targets was asked about (those waivers name), the ones no product of
    # the whole mesh is, though only a part of it was loaded.
    absent: set[str] = field(default_factory=set)
    # The lineage graph as adjacency (upstream -> downstream -> edge attributes, and the reverse),
    # every loaded product a node: what evaluation reads, without importing networkx; ``graph``
    # builds the networkx graph from it for reports and imported lineage.
    _succ: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _pred: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _graph: nx.DiGraph | None = None
    _by_id: dict[str, LoadedProduct] = field(default_factory=dict)
    _publisher: dict[str, str] = field(default_factory=dict)
    _cycles: dict[str, list[str]] = field(default_factory=dict)  # product -> the cycle it is on
    _depth: dict[str, int] = field(default_factory=dict)

    @property
    def graph(self) -> nx.DiGraph:
        """The lineage graph (products, and edges with contractId, declared and source)."""
        if self._graph is None:
            import networkx as nx

            graph = nx.DiGraph()
            graph.add_nodes_from(self._succ)
            for up, downs in self._succ.items():
                for down, attrs in downs.items():
                    graph.add_edge(up, down, **attrs)
            self._graph = graph
        return self._graph

    def _add_node(self, node: str) -> None:
        self._succ.setdefault(node, {})
        self._pred.setdefault(node, {})

    def _add_edge(self, up: str, down: str, **attrs: Any) -> None:
        self._add_node(up)
        self._add_node(down)
        self._succ[up][down] = self._pred[down][up] = attrs
        self._graph = None

    def depth(self, product: str) -> int:
        """Longest chain of upstream products (0 for a source or a product outside the mesh)."""
        return self._depth.get(product, 0)

    def published(self) -> set[str]:
        """Every contract id some product of the mesh publishes."""
        return set(self._publisher)

    def product(self, ref: str | None) -> LoadedProduct | None:
        return self._by_id.get(ref or "")

    def contracts_of(self, loaded: LoadedProduct) -> list[LoadedContract]:
        """The contracts the product's output ports publish, each once, with the ports naming it."""
        out: dict[str, LoadedContract] = {}
        for port in loaded.product.outputPorts:
            found = self.contracts.get(port.contractId or "")
            if found is None:
                continue
            entry = out.setdefault(found.contract.id or "", LoadedContract(found.contract.model_copy(), found.doc))
            entry.contract.ports = [*entry.contract.ports, port.name or ""]
        return list(out.values())

    def add_imported(self, edges: list[ImportedEdge]) -> None:
        """Add product edges found by imported lineage; an edge an input port already declares stays as declared."""
        for e in edges:
            if e.downstream not in self._succ.get(e.upstream, {}):
                self._add_edge(e.upstream, e.downstream, contractId=None, declared=False, source=e.source)
        self._cycles, self._depth = graph_facts(self.graph)

    def upstream_of(self, port: InputPort) -> str | None:
        """The product an input port reads from: the one it names, else (an ODPS port names only a
        contract) the one that publishes the contract it names."""
        return port.product or self._publisher.get(port.contractId or "")

    def upstreams(self, loaded: LoadedProduct) -> list[LoadedProduct]:
        """The products the product's input ports read from (by name, or as the publisher of the
        contract a port names), each once."""
        found: dict[int, LoadedProduct] = {}
        for port in loaded.product.inputPorts:
            up = self.product(self.upstream_of(port))
            if up is not None:
                found.setdefault(id(up), up)
        return list(found.values())

    def upstream_objects(self, loaded: LoadedProduct) -> list[tuple[str, str | None, SchemaObject]]:
        """(upstream product, contract id, schema object) for every contract the product reads.

        An input port that names a contract its upstream publishes reads that contract; one that
        names none reads every contract of the upstream.
        """
        out = []
        for port in loaded.product.inputPorts:
            up = self.product(self.upstream_of(port))
            if up is None:
                continue
            contracts = self.contracts_of(up)
            named = [c for c in contracts if c.contract.id == port.contractId]
            for c in named or contracts:
                out.extend((up.product.id, c.contract.id, obj) for obj in c.contract.objects)
        return out

    def column_lineage(self, loaded: LoadedProduct) -> list[ColumnLineage]:
        """Resolve ``transformSourceObjects`` of the product's contract columns against its upstreams' contracts.

        An entry names an upstream schema object (``physicalName`` or ``name``), which means every
        column of it, or one column of it as ``<object>.<column>``. Entries naming nothing upstream
        (source-system tables, say) are kept as ``unresolved``.
        """
        objects = self.upstream_objects(loaded)
        keyed = [(key, up, cid, obj) for up, cid, obj in objects for key in {obj.physicalName, obj.name} if key]
        out = []
        for contract in self.contracts_of(loaded):
            for obj in contract.contract.objects:
                for col in obj.properties:
                    if not col.transformSourceObjects:
                        continue
                    sources: list[ColumnSource] = []
                    unresolved: list[str] = []
                    dangling: list[DanglingSource] = []
                    for entry in col.transformSourceObjects:
                        found = _resolve(entry, keyed)
                        if found:
                            sources.extend(found)
                            continue
                        unresolved.append(entry)
                        # (an upstream's object with a column it does not have: a typo, or a column removed;
                        # a dotted path under the object, as a nested column's, is only unresolved)
                        dangling.extend(
                            DanglingSource(entry=entry, product=up, object=obj.name)
                            for key, up, _, obj in keyed
                            if entry.startswith(key + ".") and "." not in entry[len(key) + 1 :]
                        )
                    out.append(
                        ColumnLineage(
                            contract=contract.contract.id,
                            object=obj.name,
                            column=col.name,
                            classification=col.classification,
                            declassification=col.declassification,
                            sources=sources,
                            unresolved=unresolved,
                            dangling=dangling,
                            path=col.path,
                        )
                    )
        return out

    def lineage(self, loaded: LoadedProduct) -> Lineage:
        p = loaded.product
        columns = self.column_lineage(loaded)
        column_level = {s.product for c in columns for s in c.sources}
        upstream = []
        for port in p.inputPorts:
            ref = self.upstream_of(port)
            up = self.product(ref)
            published = {o.contractId for o in up.product.outputPorts} if up else set()
            contract = self.contracts.get(port.contractId or "") if port.contractId in published else None
            access = up.product.access if up else None
            upstream.append(
                UpstreamFact(
                    product=up.product.id if up else ref,
                    domain=up.product.domain if up else None,
                    classification=up.product.classification if up else None,
                    status=up.product.status if up else None,
                    contractId=port.contractId,
                    found=up is not None,
                    contract_found=up is not None and (port.contractId is None or port.contractId in published),
                    cross_domain=up is not None and up.product.domain != p.domain,
                    contract_status=contract.contract.status if contract else None,
                    consumers=access.consumers if access else [],
                    access_model=access.model if access else None,
                    contract_roles=[r.role for r in contract.contract.roles if r.role] if contract else [],
                    declassification=port.declassification,
                    column_level=up is not None and up.product.id in column_level,
                    path=port.path,
                )
            )
        declared = {u.product for u in upstream}
        if p.id in self._pred:
            for up_id, edge in sorted(self._pred[p.id].items(), key=lambda item: item[0]):
                if edge.get("declared", True) or up_id in declared:
                    continue
                up = self._by_id[up_id]
                access = up.product.access
                upstream.append(
                    UpstreamFact(
                        product=up_id,
                        domain=up.product.domain,
                        classification=up.product.classification,
                        status=up.product.status,
                        found=True,
                        contract_found=True,
                        cross_domain=up.product.domain != p.domain,
                        consumers=access.consumers if access else [],
                        access_model=access.model if access else None,
                        column_level=up_id in column_level,
                        declared=False,
                        observed_in=edge.get("source"),
                        path="inputPorts",
                    )
                )
        downstream = []
        if p.id in self._succ:
            for down_id, edge in self._succ[p.id].items():
                down = self._by_id[down_id].product
                downstream.append(
                    DownstreamFact(
                        product=down.id,
                        domain=down.domain,
                        classification=down.classification,
                        status=down.status,
                        contractId=edge.get("contractId"),
                        cross_domain=down.domain != p.domain,
                    )
                )
        cycle = self._cycles.get(p.id, [])
        return Lineage(
            on_cycle=bool(cycle),
            cycle=cycle,
            depth=self._depth.get(p.id, 0),
            upstream=upstream,
            downstream=downstream,
            columns=columns,
        )


def _resolve(entry: str, keyed: list[tuple[str, str, str | None, SchemaObject]]) -> list[ColumnSource]:
    """The upstream columns one transformSourceObjects entry names."""
    found: list[ColumnSource] = []
    for key, up, cid, obj in keyed:
        if entry == key:
            cols = obj.properties
        elif entry.startswith(key + "."):
            rest = entry[len(key) + 1 :]
            cols = [c for c in obj.properties if rest in (c.name, c.physicalName)]
        else:
            continue
        found.extend(
            ColumnSource(product=up, contract=cid, object=obj.name, column=c.name, classification=c.classification) for c in cols
        )
    return found


def unidentified(loaded: LoadedContract) -> LoadError:
    """Why a contract without an id (or that is not a mapping) cannot be evaluated."""
    errors = loaded.contract.schema_errors
    not_mapping = bool(errors) and errors[0].message.startswith("a contract must be a mapping")
    why = errors[0].message if not_mapping else "the contract has no id"
    return LoadError(f"{why}: no product can publish it", loaded.doc.file, 1)


def load_mesh(
    root: Path,
    product_files: list[Path] | None = None,
    contract_files: list[Path] | None = None,
    workers: Workers | None = None,
    facts: Facts | None = None,
) -> Mesh:
    """Load every product and contract below ``root`` and link them (files parsed by ``workers`` when given).

    With ``facts`` (from the mesh index), only part of the mesh is given: the lineage graph, cycles
    and depth come from the facts, which describe all of it."""
    mesh = Mesh(root=root)
    if product_files is None or contract_files is None:
        product_files, contract_files = discover(root, mesh.unreadable)
    escaping = links_leaving(root, [*product_files, *contract_files])
    for path, target in escaping.items():
        mesh.failures.append(
            Failure(path, LoadError(f"a symbolic link to {target}, outside the mesh, is not followed", display(path)))
        )
    product_files = [p for p in product_files if p not in escaping]
    contract_files = [p for p in contract_files if p not in escaping]
    items = [(p, "contract") for p in contract_files] + [(p, "product") for p in product_files]
    loaded_all = list(workers.map(load_one, items, len(items)) if workers is not None else map(load_one, items))
    parsed = {path: value for (path, _), value in zip(items, loaded_all, strict=True)}

    def take(path: Path) -> Any:
        value = parsed.pop(path)
        if isinstance(value, tuple):
            raise LoadError(value[1], value[2], value[3])
        return value

    for path in contract_files:
        try:
            loaded = take(path)
        except LoadError as e:
            mesh.failures.append(Failure(path, e))
            continue
        cid = loaded.contract.id
        if not cid:  # nothing can refer to it, so no rule would ever see it
            mesh.failures.append(Failure(path, unidentified(loaded)))
            continue
        if cid in mesh.contracts:
            first = mesh.contracts[cid].doc.file
            mesh.failures.append(
                Failure(
                    path, LoadError(f"contract id {cid!r} is already used by {first}", loaded.doc.file, loaded.doc.line_of("id"))
                )
            )
            continue
        mesh.contracts[cid] = loaded
    for path in product_files:
        try:
            loaded_product = take(path)
        except LoadError as e:
            mesh.failures.append(Failure(path, e))
            continue
        pid = loaded_product.product.id
        if pid in mesh._by_id:
            first = mesh._by_id[pid].doc.file
            mesh.failures.append(
                Failure(
                    path,
                    LoadError(
                        f"product {pid!r} is already defined in {first}",
                        loaded_product.doc.file,
                        loaded_product.doc.line_of("name"),
                    ),
                    pid,
                )
            )
            continue
        mesh._by_id[pid] = loaded_product
        if loaded_product.product.name != pid:
            mesh._by_id.setdefault(loaded_product.product.name, loaded_product)
        mesh.products.append(loaded_product)
    _link(mesh, facts)
    return mesh


def links_leaving(root: Path, files: list[Path]) -> dict[Path, Path]:
    """Files that are symbolic links to somewhere outside ``root`` (a mesh reads only its own files)."""
    inside = root.resolve()
    out: dict[Path, Path] = {}
    for path in files:
        if path.is_symlink():
            try:
                target = path.resolve()
            except (OSError, RuntimeError):  # a loop: reading it fails with its own clear error
                continue
            if inside not in target.parents:
                out[path] = target
    return out


@dataclass
class Facts:
    """What linking every product of a mesh by ids gives: who publishes which contract, the declared
    edges (upstream, downstream, contract id), and from the graph, cycles and depth."""

    publisher: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str, str | None]] = field(default_factory=list)
    cycles: dict[str, list[str]] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"publisher": self.publisher, "edges": self.edges, "cycles": self.cycles, "depth": self.depth}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Facts:
        edges = [(up, down, cid) for up, down, cid in data["edges"]]
        return cls(publisher=data["publisher"], edges=edges, cycles=data["cycles"], depth=data["depth"])


def claims(products: Iterable[tuple[T, str | None, str | None]]) -> dict[str, T]:
    """What each id and name refers to, as references resolve when products are loaded in this
    order (``what``, id, name): a product without an id (a file that failed to load) or whose id
    an earlier product already claims (by id or name) is left out, as load_mesh does; else it
    claims its id, and its name unless an earlier product did."""
    out: dict[str, T] = {}
    for what, pid, name in products:
        if pid is None or pid in out:
            continue
        out[pid] = what
        if name is not None and name != pid:
            out.setdefault(name, what)
    return out


def by_reference(products: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Product summaries by id and by name (:func:`claims`)."""
    return claims((s, s.get("id"), s.get("name")) for s in products)


def link_facts(products: list[dict[str, Any]]) -> Facts:
    """Link product summaries (``id``, ``name``, ``outputs``: contract ids, ``inputs``: [product,
    contract id] pairs), in load order, those :func:`by_reference` leaves out excepted."""
    by_id = by_reference(products)
    order = [s for s in products if by_id.get(s.get("id") or "") is s]
    facts = Facts()
    for s in order:
        for cid in s["outputs"]:
            facts.publisher.setdefault(cid, s["id"])
    import networkx as nx  # here: a check with a mesh index never links the whole mesh

    graph = nx.DiGraph()
    graph.add_nodes_from(s["id"] for s in order)
    for s in order:
        for ref, cid in s["inputs"]:
            up = by_id.get(ref or facts.publisher.get(cid or "", ""))
            if up is not None:
                facts.edges.append((up["id"], s["id"], cid))
                graph.add_edge(up["id"], s["id"])
    facts.cycles, facts.depth = graph_facts(graph)
    return facts


def summary(loaded: LoadedProduct) -> dict[str, Any]:
    """What linking needs of a product (the input of link_facts, and the mesh index's entry)."""
    p = loaded.product
    return {
        "id": p.id,
        "name": p.name,
        "outputs": [port.contractId for port in p.outputPorts if port.contractId],
        "inputs": [[port.product, port.contractId] for port in p.inputPorts],
    }


def _link(mesh: Mesh, facts: Facts | None = None) -> None:
    """The lineage graph of the loaded products, from ``facts`` about the whole mesh when only part
    of it was loaded, else from the loaded products themselves."""
    if facts is None:
        facts = link_facts([summary(loaded) for loaded in mesh.products])
    mesh._publisher = facts.publisher
    mesh._cycles = facts.cycles
    mesh._depth = facts.depth
    for loaded in mesh.products:
        mesh._add_node(loaded.product.id)
    for up, down, cid in facts.edges:
        if up in mesh._succ and down in mesh._succ:
            mesh._add_edge(up, down, contractId=cid, declared=True)


def graph_facts(graph: nx.DiGraph) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Cycle membership and depth: depth on the graph of strongly connected components (on the
    graph itself when it has no cycle, the usual case: at 100,000 products the condensed copy of
    the graph is 110 MB)."""
    import networkx as nx

    cycles: dict[str, list[str]] = {}
    depths: dict[str, int] = {}
    for component in nx.strongly_connected_components(graph):
        one = next(iter(component))
        if len(component) > 1 or graph.has_edge(one, one):
            members = sorted(component)
            for node in members:
                cycles[node] = members
    if not cycles:
        for node in nx.topological_sort(graph):
            depths[node] = max((depths[pred] + 1 for pred in graph.predecessors(node)), default=0)
        return cycles, depths
    condensed = nx.condensation(graph)
    depth: dict[int, int] = {}
    for scc in nx.topological_sort(condensed):
        depth[scc] = max((depth[pred] + 1 for pred in condensed.predecessors(scc)), default=0)
        for node in condensed.nodes[scc]["members"]:
            depths[node] = depth[scc]
    return cycles, depths
