"""``govern lineage``: the mesh's product graph as a text tree, JSON (nodes and edges) or Graphviz dot."""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice
from typing import TYPE_CHECKING, Any

from engine.gather.descriptors import LoadedProduct
from engine.gather.mesh import Mesh
from engine.report import one_line

if TYPE_CHECKING:
    from engine.gather.targets import Target


def graph_parts(
    mesh: Mesh, products: Iterable[LoadedProduct], nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]]
) -> None:
    """Add ``products`` (of ``mesh``) and their declared or imported upstream edges to ``nodes`` and
    ``edges`` (an edge from a product missing from the mesh is kept, its node marked missing)."""
    products = list(products)
    for loaded in products:
        p = loaded.product
        nodes[p.id] = {
            "id": p.id,
            "domain": p.domain,
            "status": p.status,
            "classification": p.classification,
            "source": loaded.doc.file,
            "missing": False,
        }
    for loaded in products:
        for fact in mesh.lineage(loaded).upstream:
            upstream = fact.product or f"(publisher of {fact.contractId})"
            if not fact.found:
                nodes.setdefault(upstream, {"id": upstream, "domain": None, "status": None, "missing": True})
            edges.append(
                {
                    "from": upstream,
                    "to": loaded.product.id,
                    "contractId": fact.contractId,
                    "cross_domain": fact.cross_domain,
                    "found": fact.found,
                    "port": fact.path if fact.declared else None,
                    "declared": fact.declared,
                    "observed_in": fact.observed_in,
                }
            )


def graph_document(mesh: Mesh, product: str | None = None) -> dict[str, Any]:
    """Nodes and every declared edge (an edge to a product missing from the mesh is kept, marked)."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    graph_parts(mesh, mesh.products, nodes, edges)
    for node in nodes.values():  # (as the audit report's lineage has it)
        node["depth"] = mesh.depth(node["id"])
    if product is not None:
        import networkx as nx  # here: an audit's batches (GraphCollector) import this module, not networkx

        upstream = {product} | nx.ancestors(mesh.graph, product)
        keep = upstream | nx.descendants(mesh.graph, product)
        # and the missing products it reads from, directly or through its upstream (not in the graph)
        keep |= {e["from"] for e in edges if e["to"] in upstream and nodes.get(e["from"], {}).get("missing")}
        # (its impact alone: not the other upstreams of a product downstream of it)
        edges = [e for e in edges if e["to"] in keep and e["from"] in keep]
        nodes = {k: v for k, v in nodes.items() if k in keep}
    return {"nodes": sorted(nodes.values(), key=lambda n: n["id"]), "edges": edges}


class GraphCollector:
    """A batch's part of the report's product graph (engine.spool.Spool.merge adds it to the audit's)."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[dict[str, Any]] = []
        self.depth: dict[str, int] = {}

    def add(self, mesh: Mesh | None, targets: list[Target]) -> None:
        if mesh is None:
            return
        before = len(self.nodes)
        graph_parts(mesh, [t.product for t in targets if t.product is not None], self.nodes, self.edges)
        # Depth comes from the facts about the whole mesh: only the nodes this batch added need it.
        self.depth.update((n, mesh.depth(n)) for n in islice(self.nodes, before, None))


def render_json(mesh: Mesh, product: str | None = None) -> str:
    return json.dumps(graph_document(mesh, product), indent=2) + "\n"


def _dot(text: str) -> str:
    """A DOT quoted string: Graphviz reads no \\u escapes, so names keep their characters."""
    return json.dumps(text, ensure_ascii=False)


def render_dot(mesh: Mesh, product: str | None = None) -> str:
    doc = graph_document(mesh, product)
    lines = ["digraph mesh {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    by_domain: dict[str, list[dict[str, Any]]] = {}
    for node in doc["nodes"]:
        by_domain.setdefault(node["domain"] or "", []).append(node)
    for i, (domain, members) in enumerate(sorted(by_domain.items())):
        lines.append(f"  subgraph cluster_{i} {{ label={_dot(domain or '(no domain)')};")
        for node in members:
            style = ", style=dashed" if node["missing"] else ""
            lines.append(f"    {_dot(node['id'])} [label={_dot(node['id'])}{style}];")
        lines.append("  }")
    for e in doc["edges"]:
        attrs = [f"label={_dot(e['contractId'])}"] if e["contractId"] else []
        if not e["declared"]:
            attrs.append("style=dashed")
        label = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_dot(e['from'])} -> {_dot(e['to'])}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_text(mesh: Mesh, product: str | None = None) -> str:
    """Each source product with the products downstream of it, indented; or one product's impact."""
    import networkx as nx

    graph = mesh.graph
    out: list[str] = []
    if product is not None:
        up = sorted(nx.ancestors(graph, product))
        down = nx.descendants(graph, product)

        def imported(edges: list[tuple[str, str]]) -> bool:
            """Whether a product is linked to the others shown only by edges imported lineage shows."""
            return not any(graph.edges[e].get("declared", True) for e in edges)

        near = {product, *up}
        shown_up = [
            f"{one_line(p)}{' (imported)' if imported([(p, d) for d in graph.successors(p) if d in near]) else ''}" for p in up
        ]
        out.append(f"{one_line(product)}")
        out.append(f"  upstream ({len(up)}): {', '.join(shown_up) or 'none'}")
        missing = sorted(n["id"] for n in graph_document(mesh, product)["nodes"] if n["missing"])
        if missing:  # (named by an input port of it or of its upstream; not in the graph)
            out.append(f"  not in the mesh ({len(missing)}): {', '.join(one_line(p) for p in missing)}")
        lengths = nx.single_source_shortest_path_length(graph, product)
        impact = sorted(down, key=lambda p: (lengths[p], p))
        out.append(f"  downstream impact ({len(impact)}):")
        near = {product, *down}
        for p in impact:
            mark = ", imported" if imported([(u, p) for u in graph.predecessors(p) if u in near]) else ""
            out.append(f"    {one_line(p)}  (distance {lengths[p]}{mark})")
        return "\n".join(out) + "\n"

    # The tree is drawn from the same nodes and edges as JSON and dot: products missing from the
    # mesh (marked, as roots), and edges only imported lineage shows (marked on the downstream).
    # Each product is expanded once (later mentions say so, or that it closes a cycle), so the
    # tree stays as large as the graph however many paths lead to a product; roots are the first
    # member of every group of products nothing else feeds, so a component that is only a cycle
    # is shown too. (Walked with a stack of its own, not by recursion: a chain of a thousand
    # products is deeper than Python's recursion goes.)
    doc = graph_document(mesh)
    missing = {n["id"] for n in doc["nodes"] if n["missing"]}
    children: dict[str, dict[str, bool]] = {n["id"]: {} for n in doc["nodes"]}  # -> child: declared
    for e in doc["edges"]:
        kids = children[e["from"]]
        kids[e["to"]] = kids.get(e["to"], False) or e["declared"]
    whole = nx.DiGraph((up, down) for up, kids in children.items() for down in kids)
    whole.add_nodes_from(children)
    condensed = nx.condensation(whole)
    roots = sorted(min(condensed.nodes[c]["members"]) for c in condensed.nodes if condensed.in_degree(c) == 0)
    expanded: set[str] = set()
    path: list[str] = []  # the products from the root down to the line being written
    for root in roots:
        stack: list[tuple[str, int, bool]] = [(root, 0, True)]
        while stack:
            node, depth, declared = stack.pop()
            del path[depth:]
            marks = [] if declared else ["imported"]
            if node in missing:
                marks.append("not in the mesh")
            if node in expanded:
                marks.append("cycle" if node in path else "see above")
            line = f"{'  ' * depth}{one_line(node)}"
            out.append(f"{line}  ({', '.join(marks)})" if marks else line)
            if node in expanded:
                continue
            expanded.add(node)
            path.append(node)
            kids = children[node]
            stack.extend((child, depth + 1, kids[child]) for child in sorted(kids, reverse=True))
    return "\n".join(out) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "dot": render_dot}
