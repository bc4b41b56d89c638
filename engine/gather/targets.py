"""What ``govern check PATH...`` evaluates: products (with their mesh) and standalone contracts.

A product is always evaluated inside its mesh, so its contracts and upstream products resolve:
the mesh is the configured one (``--mesh`` or govern.toml) when the path lies inside it, otherwise
the folder given (or the folder of the file given). A standalone contract needs no mesh and gets
the contract rules only. Files that cannot be loaded become ``error`` targets with their reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.config import TooLarge, display, read_regular
from engine.errors import LoadError
from engine.gather.contracts import LoadedContract, load_contract
from engine.gather.descriptors import LoadedProduct
from engine.gather.index import Batch, IndexDamaged, MeshIndex, refresh
from engine.gather.mesh import Failure, Mesh, discover, file_kind, load_mesh, unidentified
from engine.gather.yamlsrc import MAX_FILE_BYTES, load_file
from engine.parallel import Workers

CONTRACT_RULES = {"contracts"}


@dataclass
class Target:
    """Something to evaluate: a product (with its contracts), a standalone contract, or a load failure."""

    id: str
    name: str
    domain: str | None
    source: str
    product: LoadedProduct | None = None
    contracts: list[LoadedContract] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    categories: set[str] | None = None  # None: every category


def _abs(path: str | Path) -> Path:
    """Absolute and normalized, but symbolic links kept as the user wrote them."""
    return Path(os.path.abspath(path))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _kind_of_file(path: Path) -> str:
    """By name, else by the document's ``kind``; raises LoadError for anything else."""
    kind = file_kind(path)
    if kind:
        return kind
    doc = load_file(path, display(path))
    value = doc.data.get("kind") if isinstance(doc.data, dict) else None
    if value == "DataProduct":
        return "product"
    if value == "DataContract":
        return "contract"
    raise LoadError(
        f"unknown kind {value!r}: expected DataProduct or DataContract"
        if value
        else "not a data product or contract (no 'kind')",
        doc.file,
        doc.line_of("kind"),
    )


def product_target(loaded: LoadedProduct, mesh: Mesh) -> Target:
    p = loaded.product
    return Target(
        id=p.id, name=p.name, domain=p.domain, source=loaded.doc.file, product=loaded, contracts=mesh.contracts_of(loaded)
    )


def contract_target(loaded: LoadedContract) -> Target:
    c = loaded.contract
    ident = c.id or loaded.doc.file
    return Target(
        id=ident,
        name=c.name or ident,
        domain=c.domain,
        source=loaded.doc.file,
        contracts=[loaded],
        categories=CONTRACT_RULES,
    )


def error_target(path: Path, error: LoadError) -> Target:
    """A file that could not be loaded, known by its path, in the domain its text names if any (so
    that its domain's verdicts count the error rather than the domain losing the product)."""
    shown = display(path)
    text = _text_of(path)
    found = _DOMAIN.search(text) if text is not None else None
    return Target(id=shown, name=shown, domain=found and found[2], source=shown, errors=[str(error)])


def check_targets(
    paths: list[Path],
    mesh_root: Path | None,
    workers: Workers | None = None,
    use_index: bool = False,
    asked: Collection[str] = (),
) -> tuple[Mesh | None, list[Target]]:
    """The targets in ``paths`` and the mesh they live in. With ``use_index``, only the part of the
    mesh they need is loaded, found with the mesh index (engine/gather/index.py). Of the products
    ``asked`` about, those the whole mesh does not have are the mesh's ``absent``."""
    resolved = [_abs(p) for p in paths]
    configured = _abs(mesh_root) if mesh_root else None
    targets: list[Target] = []
    product_paths: list[Path] = []
    contract_files: list[Path] = []
    for path in resolved:
        if path.is_dir():
            product_paths.append(path)
            continue
        try:
            kind = _kind_of_file(path)
        except LoadError as e:
            targets.append(error_target(path, e))
            continue
        (product_paths if kind == "product" else contract_files).append(path)

    mesh: Mesh | None = None
    if product_paths:
        roots = {configured if configured and _inside(p, configured) else (p if p.is_dir() else p.parent) for p in product_paths}
        root = configured if configured in roots else _common(roots)
        # A descriptor named on the command line is a product by its kind even when its file
        # name is not one discovery looks for.
        descriptors = [p for p in product_paths if not p.is_dir()]
        # The index lives in the configured mesh (govern.toml or --mesh); a folder checked on its
        # own is loaded whole and left as it was.
        if use_index and root == configured and root not in product_paths:
            index = refresh(root, descriptors, workers)
            try:
                products, contracts, facts = index.neighbourhood(product_paths)
            except IndexDamaged:  # (pages a first look could not see: verified, and rebuilt, once)
                index.conn.close()
                index = refresh(root, descriptors, workers, verify=True)
                products, contracts, facts = index.neighbourhood(product_paths)
            mesh = load_mesh(root, products, contracts, workers=workers, facts=facts)
            mesh.absent = set(asked) - index.known(sorted(asked)) if asked else set()
            unreadable = index.unreadable
        else:
            unreadable = []
            found_products, found_contracts = discover(root, unreadable)
            named = list(dict.fromkeys(p for p in descriptors if p not in found_products))  # (once each)
            mesh = load_mesh(root, found_products + named, found_contracts, workers=workers)
            mesh.absent = {ref for ref in asked if mesh.product(ref) is None}
        # The folders that could not be listed among those checked (another domain's are not its to fix).
        mesh.unreadable = [(f, why) for f, why in unreadable if any(_inside(Path(f), p) for p in product_paths)]
        targets.extend(select(mesh, product_paths))
    for path in contract_files:
        try:
            loaded = load_contract(load_file(path, display(path)))
            if not isinstance(loaded.doc.data, dict) and not loaded.contract.id:  # (nothing for a rule to read)
                raise unidentified(loaded)
            targets.append(contract_target(loaded))
        except LoadError as e:
            targets.append(error_target(path, e))
    seen: set[str] = set()
    ids: dict[str, str] = {}  # id -> the source of the target that has it
    unique = []
    for t in targets:
        if t.source in seen:
            continue
        seen.add(t.source)
        if t.id in ids and t.product is None and not t.errors:  # a contract named like a product checked here
            why = f"its id {t.id!r} is also that of {ids[t.id]}, checked in the same run: check them apart"
            t = Target(id=t.source, name=t.source, domain=None, source=t.source, errors=[f"{t.source}:1: {why}"])
        ids.setdefault(t.id, t.source)
        unique.append(t)
    return mesh, unique


# What a descriptor that could not be loaded still says it is: a top-level name or id, and the
# contract ids it writes (read from its text, its YAML being broken).
_DECLARED = re.compile(r"""^(?:name|id)[ \t]*:[ \t]*["']?([^"'#\s]+)|contractId[ \t]*:[ \t]*["']?([^"'#\s,}]+)""", re.M)
# and its top-level domain, a plain name alone on its line (before the \r of a Windows line end too)
_DOMAIN = re.compile(r"""^domain[ \t]*:[ \t]*(["']?)([A-Za-z0-9_.-]+)\1[ \t]*(?:#[^\r\n]*)?\r?$""", re.M)


def _text_of(path: Path) -> str | None:
    """The text of a file that could not be loaded; None for what cannot be read as a regular file
    of the mesh."""
    if os.path.islink(path):  # (not followed: it may lead outside the mesh)
        return None
    try:
        return read_regular(path, MAX_FILE_BYTES).decode("utf-8", "replace")
    except TooLarge:  # (a regular file: what it says of itself is at its top, read up to the limit)
        try:
            with open(path, "rb") as file:
                return file.read(MAX_FILE_BYTES).decode("utf-8", "replace")
        except OSError:
            return None
    except OSError:
        return None


def declared_in(failure: Failure) -> set[str]:
    """The names, ids and contract ids the text of a descriptor that could not be loaded writes."""
    text = _text_of(failure.path)
    return {name or cid for name, cid in _DECLARED.findall(text)} if text is not None else set()


def _missing_upstreams(loaded: LoadedProduct, mesh: Mesh, failures: list[Failure], declared: dict[int, set[str]]) -> list[str]:
    """For each upstream the product's input ports name that is not in the mesh (a product, or for
    a port naming only a contract, a contract no product publishes) while a descriptor that could
    not be loaded writes its name: why the product cannot be judged. CON-007's "not in the mesh"
    would be a false blocking failure when that file is the upstream, broken."""
    errors: dict[str, None] = {}
    for port in loaded.product.inputPorts:
        named = port.product or port.contractId
        if not named or mesh.product(mesh.upstream_of(port)) is not None:
            continue
        found = [f for f in failures if named in declared.setdefault(id(f), declared_in(f))]
        if not found:
            continue
        what = f"product {named}, declared" if port.product else f"contract {named}, published"
        more = f" (and {len(found) - 1} more such file{'s' if len(found) > 2 else ''})" if len(found) > 1 else ""
        errors.setdefault(f"its input port names {what} in a file that could not be loaded: {found[0].error}{more}")
    return list(errors)


def in_configured(paths: list[Path], mesh_root: Path | None) -> tuple[Path, ...]:
    """The PATHs of a check, each as a path in the configured mesh when it leads there through a
    link to the mesh or to a folder above it (/link/mesh/orders/x, where /link leads to the
    repository), or to a folder or file inside it; the others as given. Whether a path lies in the
    mesh is otherwise judged by its spelling (links kept as written, see :func:`_abs`): a product
    reached through such a link was checked on its own, its upstreams missing (CON-007)."""
    if mesh_root is None:
        return tuple(paths)
    configured = _abs(mesh_root)
    mesh = os.path.realpath(configured)
    found = []
    for path in map(_abs, paths):
        if not _inside(path, configured):
            above = next((a for a in [path, *path.parents] if os.path.realpath(a) == mesh), None)
            real = os.path.realpath(path)
            if above is not None:
                path = configured / path.relative_to(above)
            elif real.startswith(mesh + os.sep):  # (a link to a folder or file inside the mesh)
                path = configured / os.path.relpath(real, mesh)
        found.append(path)
    return tuple(found)


def outside(paths: list[Path], folder: Path) -> list[Path]:
    """The ``paths`` that do not lie in ``folder`` (as written: see :func:`_abs`)."""
    return [path for path in paths if not _inside(_abs(path), _abs(folder))]


def paths_without(paths: list[Path], sources: list[str]) -> list[Path]:
    """The ``paths`` of a check in which none of the checked files (``sources``) lies."""
    found = [_abs(source) for source in sources]
    return [path for path in paths if not any(_inside(source, _abs(path)) for source in found)]


def batched_targets(index: MeshIndex, workers: Workers | None, size: int) -> Iterator[tuple[Mesh, list[Target]]]:
    """The targets of the whole mesh of ``index`` (up to date), a batch of about ``size`` products
    at a time, each loaded with :func:`load_batch`. Only one batch is held at once, so memory does
    not grow with the mesh; the targets are those a whole-mesh load gives."""
    for files in index.batches(size):
        mesh, targets = load_batch(index.batch(files), workers)
        yield mesh, targets
        del mesh, targets  # before the next batch is loaded


def load_batch(batch: Batch, workers: Workers | None = None) -> tuple[Mesh, list[Target]]:
    """One batch of an audit (engine.gather.index.MeshIndex.batch): its files loaded with the part
    of the mesh they need (their neighbours and the contracts its products publish and read),
    linked with the facts about the whole mesh, and the targets among its files."""
    mesh = load_mesh(batch.root, batch.paths(batch.products), batch.paths(batch.contracts), workers=workers, facts=batch.facts)
    return mesh, select(mesh, files=set(batch.paths(batch.files)))


def _common(roots: set[Path]) -> Path:
    parts = [r.parts for r in roots]
    common = []
    for group in zip(*parts, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    return Path(*common)


def select(mesh: Mesh, paths: list[Path] | None = None, files: set[Path] | None = None) -> list[Target]:
    """The mesh's products, failures and unpublished contracts that lie in the given paths (or are
    among the given files)."""

    def wanted(file: str) -> bool:
        f = _abs(file)
        if files is not None:
            return f in files
        return any(_inside(f, p) for p in paths or [])

    targets: list[Target] = []
    failed_contracts = [f for f in mesh.failures if file_kind(f.path) == "contract"]
    failed_in: dict[Path, list[Failure]] = {}
    for failure in mesh.failures:
        failed_in.setdefault(_abs(failure.path).parent, []).append(failure)
    # (the descriptors that could not be loaded whose ids are unknown)
    failed_descriptors = sorted(
        (f for f in mesh.failures if file_kind(f.path) != "contract" and f.declares is None), key=lambda f: str(f.path)
    )
    declared: dict[int, set[str]] = {}  # (what each of them writes, read when a product needs it)
    for loaded in mesh.products:
        if not wanted(loaded.doc.file):
            continue
        target = product_target(loaded, mesh)
        folder = _abs(loaded.doc.file).parent
        target.errors.extend(str(f.error) for f in failed_contracts if _abs(f.path).parent == folder)
        # What it reads may be among the files of its upstreams that could not be loaded (a
        # contract's id is unknown until it loads): its verdict cannot be vouched for either.
        for up in mesh.upstreams(loaded) if failed_in else []:
            for failure in failed_in.get(_abs(up.doc.file).parent, []):
                target.errors.append(f"it reads from {up.product.id}, a file of which could not be loaded: {failure.error}")
        # An upstream it names that is not in the mesh may be a descriptor that could not be loaded.
        target.errors.extend(_missing_upstreams(loaded, mesh, failed_descriptors, declared) if failed_descriptors else [])
        targets.append(target)
    for failure in mesh.failures:
        # (a descriptor named on the command line may have any name)
        if file_kind(failure.path) != "contract" and wanted(str(failure.path)):
            targets.append(error_target(failure.path, failure.error))
    product_folders = {_abs(t.source).parent for t in targets}
    for failure in failed_contracts:
        if wanted(str(failure.path)) and _abs(failure.path).parent not in product_folders:
            targets.append(error_target(failure.path, failure.error))
    # A contract no product publishes is checked on its own, unless it sits beside a descriptor
    # that failed to load (then the failure already stands for it).
    published_anywhere = mesh.published()
    failed_folders = {_abs(f.path).parent for f in mesh.failures if file_kind(f.path) != "contract"}
    for cid, loaded in sorted(mesh.contracts.items()):
        folder = _abs(loaded.doc.file).parent
        if cid not in published_anywhere and folder not in failed_folders and wanted(loaded.doc.file):
            namesake = mesh.product(cid)
            if namesake is not None and namesake.product.id == cid:
                # (reported under its id, it would share the product's entry and findings)
                targets.append(error_target(Path(loaded.doc.file), _namesake(loaded, namesake)))
            else:
                targets.append(contract_target(loaded))
    return targets


def _namesake(loaded: LoadedContract, product: LoadedProduct) -> LoadError:
    why = (
        f"its id {loaded.contract.id!r} is also that of product {product.product.id} ({product.doc.file}), and no"
        " product publishes it: a contract on its own is reported under its id, so rename one of them"
    )
    return LoadError(why, loaded.doc.file, loaded.doc.line_of("id"))
