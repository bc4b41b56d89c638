"""One OPA input document per product (docs/input.md), the same for every backend."""

from __future__ import annotations

from datetime import datetime

from engine.gather.contracts import LoadedContract
from engine.gather.descriptors import LoadedProduct
from engine.gather.mesh import Mesh
from engine.governance import Governance
from engine.model import InputDocument, Lineage
from engine.policy.federation import EffectiveRule


def rfc3339(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_input(
    product: LoadedProduct | None,
    contracts: list[LoadedContract],
    mesh: Mesh | None,
    governance: Governance,
    rules: list[EffectiveRule],
    now: datetime,
) -> InputDocument:
    domain = product.product.domain if product else None
    model = product.product if product else None
    if model is not None and mesh is not None and any(port.product is None for port in model.inputPorts):
        # (an ODPS port names only a contract: the document names the product that publishes it)
        ports = [port.model_copy(update={"product": mesh.upstream_of(port)}) for port in model.inputPorts]
        model = model.model_copy(update={"inputPorts": ports})
    return InputDocument(
        product=model,
        contracts=[c.contract for c in contracts],
        lineage=mesh.lineage(product) if (mesh and product) else Lineage(),
        domain=governance.domain_entry(domain),
        params={r.meta.id: r.params for r in rules},
        now=rfc3339(now),
    )
