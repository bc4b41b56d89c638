"""The mesh index: what ``govern check`` needs to know about the rest of a mesh, kept under .govern/.

Checking one product needs its lineage neighbours (upstream and downstream products, and the
upstream contracts it reads) and facts about the whole lineage graph (cycles, depth, who publishes which
contract). Loading every file of a 10,000-product mesh for that takes seconds, so ``check`` keeps an
index in ``MESH/.govern/index.json``: for every descriptor and contract file its signature (size,
modification and change time, inode), the product's id, name, published contracts and input ports
(or the contract's id), and the graph facts computed from them. A file whose signature changed, or
that changed too close to the index being written to trust its time stamps, is read again; the
facts are recomputed whenever any entry changed. Then only the checked products, their neighbours
and the contracts the checked products publish and read are loaded (the contracts of downstream
neighbours reach no input document). A missing, unreadable or outdated index is rebuilt; one
that cannot be written is used for the run and not kept.

The signatures are kept as one text, a line per file in discovery order, so that the usual case
(nothing changed) is one comparison of that text with the one the walk gives, and the file holds
few JSON values to decode: a 10,000-product mesh's index loads in a third of the time it took as an
object per file. The folders' signatures are kept the same way, so that a folder in which no entry
was added, removed or renamed is not listed again (see _walk).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.gather.files import load_one
from engine.gather.mesh import (
    Facts,
    by_reference,
    kind_of_name,
    link_facts,
    links_leaving,
    scan_folder,
    skipped_folder,
    summary,
)
from engine.parallel import Workers

INDEX_VERSION = 2
INDEX_PATH = Path(".govern") / "index.json"
RACY_NS = 2_000_000_000  # a file written this close to the index may have changed within one time stamp


@dataclass
class Batch:
    """One batch of an audit (:meth:`MeshIndex.batch`): its files, the files to load with them and
    the facts that link them. A worker evaluating the batch is sent this, never the whole index."""

    root: Path
    # Files as paths relative to root (sent to a worker as text, which pickles in a tenth of the time)
    files: list[str]  # the batch's own files: its products, failures and unpublished contracts are its targets
    products: list[str]  # the descriptors to load: the batch's and its products' neighbours'
    contracts: list[str]
    facts: Facts

    def paths(self, keys: list[str]) -> list[Path]:
        return [self.root / key for key in keys]


@dataclass
class MeshIndex:
    root: Path
    # path relative to root -> what linking needs of the product (mesh.summary; {} when it failed to load)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    contracts: dict[str, str | None] = field(default_factory=dict)  # path relative to root -> contract id
    facts: Facts = field(default_factory=Facts)
    product_keys: list[str] = field(default_factory=list)  # in discovery order
    contract_keys: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # every key, in discovery order

    def neighbourhood(self, paths: list[Path]) -> tuple[list[Path], list[Path]]:
        """The descriptor and contract files to load to check everything in ``paths``: the files
        inside them, the products their products read from or feed, every file claiming one of
        those products' ids or names, and the contracts the checked products publish and read."""
        named = {_key(self.root, p) for p in paths}
        prefixes = tuple(f"{k}/" for k in named)
        products, contracts = self._around(lambda key: key in named or key.startswith(prefixes))
        return [self.root / key for key in products], [self.root / key for key in contracts]

    def batches(self, size: int) -> list[list[Path]]:
        """Every descriptor and contract file, in groups of about ``size`` products for an audit
        that holds only one group (and its neighbours) at a time. A folder's files stay in one
        group, so a product and the contracts beside it are loaded together."""
        folders: dict[str, list[str]] = {}
        for key in self.order:
            folders.setdefault(os.path.dirname(key), []).append(key)
        groups: list[list[Path]] = []
        group: list[Path] = []
        products = 0
        for keys in folders.values():
            group.extend(self.root / key for key in keys)
            products += sum(1 for key in keys if key in self.products)
            if products >= size:
                groups.append(group)
                group, products = [], 0
        if group:
            groups.append(group)
        return groups

    def batch(self, files: list[Path]) -> Batch:
        """What loading exactly ``files`` (one of :meth:`batches`) needs: these, their products'
        neighbours, the contracts their products publish and read, every other contract claiming
        the id of one of them (the first claim wins, as when the whole mesh is loaded), and the
        facts about the whole mesh that linking these files consults."""
        keys = [_key(self.root, p) for p in files]
        named = set(keys)
        claimed = {self.contracts[key] for key in keys if key in self.contracts} - {None}
        products, contracts = self._around(named.__contains__, claimed)
        return Batch(self.root, keys, products, contracts, self._facts_of(products, contracts))

    def _around(self, inside: Callable[[str], bool], contract_ids: set[str] | None = None) -> tuple[list[str], list[str]]:
        entries = self.products
        ids = {entries[key].get("id") for key in self.product_keys if inside(key)} - {None}
        wanted = set(ids)
        for up, down, _ in self.facts.edges:
            if down in ids:
                wanted.add(up)
            if up in ids:
                wanted.add(down)
        products = [
            key
            for key in self.product_keys
            if inside(key) or entries[key].get("id") in wanted or entries[key].get("name") in wanted
        ]
        contract_ids = (contract_ids or set()) | self._read_by([key for key in self.product_keys if inside(key)])
        contracts = [key for key in self.contract_keys if inside(key) or self.contracts[key] in contract_ids]
        return products, contracts

    def _facts_of(self, products: list[str], contracts: list[str]) -> Facts:
        """The part of the facts that linking the files of ``products`` and ``contracts`` (keys)
        looks up (engine.gather.mesh.Mesh: the publishers of the contracts loaded and read, the edges
        between products loaded, the depth and cycle of every product they name): the same
        lookups as in the whole facts give the same answers."""
        facts = self.facts
        entries = [self.products[key] for key in products]
        ids = {entry["id"] for entry in entries if entry.get("id") is not None}
        cids = {self.contracts[key] for key in contracts} - {None}
        nodes = set(ids)
        for entry in entries:
            cids.update(entry.get("outputs", []))
            for ref, cid in entry.get("inputs", []):
                cids.add(cid)
                nodes.add(ref or facts.publisher.get(cid or "") or f"(publisher of {cid})")
        publisher = {cid: facts.publisher[cid] for cid in cids if cid in facts.publisher}
        nodes.update(publisher.values())
        return Facts(
            publisher=publisher,
            edges=[edge for edge in facts.edges if edge[0] in ids and edge[1] in ids],
            cycles={node: facts.cycles[node] for node in nodes if node in facts.cycles},
            depth={node: facts.depth[node] for node in nodes if node in facts.depth},
        )

    @functools.cached_property
    def _by_reference(self) -> dict[str, dict[str, Any]]:
        """The product entries by id and name (once per process: an audit asks for every batch)."""
        return by_reference([self.products[key] for key in self.product_keys])

    def _read_by(self, keys: list[str]) -> set[str]:
        """The contract ids the products of ``keys`` publish or read: an input port reads the
        contract it names when its upstream publishes it, else every contract of its upstream
        (as engine.gather.mesh.Mesh.upstream_objects resolves them)."""
        products = self._by_reference
        read: set[str] = set()
        for key in keys:
            entry = self.products[key]
            read.update(entry.get("outputs", []))
            for ref, cid in entry.get("inputs", []):
                upstream = products.get(ref or self.facts.publisher.get(cid or "", ""), {}).get("outputs", [])
                read.update([cid] if cid in upstream else upstream)
        return read


def _key(root: Path, path: Path | str) -> str:
    """``path`` relative to ``root``, as text (the index's key)."""
    base, text = str(root), str(path)
    if text.startswith(base + os.sep):
        return text[len(base) + 1 :]
    return os.path.relpath(text, base) if text != base else "."


def _summary(item: tuple[Path, str]) -> dict[str, Any] | str | None:
    """What the index keeps of one file, read in full: a product's summary ({} when it cannot be
    loaded), a contract's id (None when it cannot be loaded)."""
    kind = item[1]
    loaded = load_one(item)
    if isinstance(loaded, tuple):
        return {} if kind == "product" else None
    return loaded.contract.id if kind == "contract" else summary(loaded)


def stored_size(root: Path) -> int:
    """The size in bytes of the index stored in the mesh at ``root`` (0 when there is none): about
    700 bytes a product."""
    try:
        return (root / INDEX_PATH).stat().st_size
    except OSError:
        return 0


def _read(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    ok = isinstance(data, dict) and data.get("version") == INDEX_VERSION and isinstance(data.get("files"), str)
    return data if ok else {}


def refresh(root: Path, named: list[Path] | None = None, workers: Workers | None = None) -> MeshIndex:
    """The index of the mesh at ``root`` (plus the descriptors ``named`` on the command line that
    discovery does not find), brought up to date and saved when it changed. Files to read again are
    read by ``workers`` when given. A stored index of the right version but the wrong shape is
    rebuilt."""
    stored = _read(root / INDEX_PATH)
    try:
        return _refresh(root, named or [], workers, stored)
    except (AttributeError, KeyError, TypeError, ValueError):
        return _refresh(root, named or [], workers, {})


def _refresh(root: Path, named: list[Path], workers: Workers | None, stored: dict[str, Any]) -> MeshIndex:
    written = stored.get("written_ns", 0)
    trusted = written - RACY_NS  # files and folders modified before this are as the index saw them
    index = MeshIndex(root=root)
    files, folders, racy = _walk(root, stored.get("folders"), trusted)
    if named:
        found = {path for path, _, _, _, _ in files}
        files += [(str(p), "product", True, *_signature("product", _stat(str(p)))) for p in named if str(p) not in found]
    # Links leaving the mesh are not read (load_mesh makes them errors): they declare nothing here.
    leaving = links_leaving(root, [Path(path) for path, _, link, _, _ in files if link])
    states: list[str] = []  # kind and signature of each file
    mtimes: list[int | None] = []  # None: the file could not be stat'ed (it is read again)
    base = str(root) + os.sep
    for path, kind, _, state, mtime in files:  # the hot loop of every check: a pass over every file of the mesh
        key = path[len(base) :] if path.startswith(base) else _key(root, path)
        (index.product_keys if kind == "product" else index.contract_keys).append(key)
        index.order.append(key)
        states.append(state)
        mtimes.append(mtime)
    text = "\n".join(map("\t".join, zip(index.order, states, strict=True)))  # a line per file: key, kind, signature
    if text == stored.get("files") and None not in mtimes and max(mtimes, default=0) < trusted:  # the usual case
        index.products, index.contracts = stored["products"], stored["contracts"]
        if (
            index.products.keys() != set(index.product_keys)
            or index.contracts.keys() != set(index.contract_keys)
            or not all(type(v) is dict for v in index.products.values())
            or not all(v is None or type(v) is str for v in index.contracts.values())
        ):
            raise ValueError("the index's entries are not its files'")
        index.facts = Facts.from_json(stored["facts"])
        if racy or folders != stored.get("folders"):  # a folder changed, its descriptors and contracts did not
            _write(root / INDEX_PATH, index, text, folders)
        return index
    old_states = _states(stored.get("files", ""))
    olds: dict[str, dict[str, Any]] = {"product": stored.get("products", {}), "contract": stored.get("contracts", {})}
    news: dict[str, dict[str, Any]] = {"product": index.products, "contract": index.contracts}
    stale: list[tuple[str, str, str]] = []
    changed = reread = False
    for (path, kind, _, _, _), key, state, mtime in zip(files, index.order, states, mtimes, strict=True):
        old = olds[kind]
        if old_states.get(key) == state and key in old:
            if mtime is not None and mtime < trusted:
                news[kind][key] = old[key]
                continue
            stale.append((key, path, kind))  # unchanged, but too recent to trust its time stamps
        else:
            stale.append((key, path, kind))
            changed = True
    items = [(Path(path), kind) for _, path, kind in stale if Path(path) not in leaving]
    read = workers.map(_summary, items, len(items)) if workers is not None else map(_summary, items)
    for key, path, kind in stale:
        if Path(path) in leaving:
            entry: Any = {} if kind == "product" else None
        else:
            entry = next(read)
        old = olds[kind]
        if key not in old or old[key] != entry:
            changed = True
        else:  # unchanged, but too recent to trust: saving again moves the index past it
            reread = True
        news[kind][key] = entry
    changed = changed or old_states.keys() != set(index.order) or not isinstance(stored.get("facts"), dict)
    if changed:
        index.facts = link_facts([index.products[key] for key in index.product_keys])
    else:
        index.facts = Facts.from_json(stored["facts"])
    if changed or reread or racy or folders != stored.get("folders"):
        _write(root / INDEX_PATH, index, text, folders)
    return index


# A walked file: path, kind, whether it may be a link, and its signature as the index stores it
# (kind, then size, modification and change time, inode, or "-" when it cannot be stat'ed) with its
# modification time (None then). Not the stat itself: 200,000 of those held at once are 130 MB.
Walked = tuple[str, str, bool, str, int | None]


def _signature(kind: str, st: os.stat_result | None) -> tuple[str, int | None]:
    if st is None:
        return f"{kind}\t-", None
    return f"{kind}\t{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}", st.st_mtime_ns


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _walk(root: Path, stored: Any, trusted: int) -> tuple[list[Walked], str, bool]:
    """The mesh's descriptors and contracts as engine.gather.mesh.walk_files finds them, each
    stat'ed, and the text of the folders' signatures to store (a line per folder: its path
    relative to the mesh, its modification time, change time and inode, and the names of its
    descriptors and contracts, ``/``-separated).

    A folder whose signature is the one ``stored`` and which was modified before ``trusted`` is
    not listed again: adding, removing or renaming an entry changes a folder's modification time,
    so its descriptors, contracts and subfolders are the stored ones (a file edited in place leaves
    its folder's time alone, which is why every file is still stat'ed). That is a system call per
    folder instead of three or more and the sorting of its entries: a third of the walk of a
    10,000-product mesh. The mesh's own folder, a folder with a link among its descriptors and
    contracts (whose target the index must check) and one with a tab or line break in a name it
    lists are listed every time."""
    signatures: dict[str, str] = {}
    names: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for line in stored.split("\n") if isinstance(stored, str) and stored else ():
        fields = line.split("\t")
        if len(fields) == 3:
            key = fields[0]
            if key in signatures:  # a damaged index: nothing of it is reused
                signatures.clear()
                break
            _, signatures[key], listed = fields
            names[key] = listed.split("/") if listed else []
            parent, _, name = key.rpartition(os.sep)
            if key and not skipped_folder(name):
                children.setdefault(parent, []).append(name)
    files: list[Walked] = []
    lines: list[str] = []
    racy = False
    base = str(root)
    stack = [base]
    while stack:
        folder = stack.pop()
        key = folder[len(base) + 1 :]
        st = _stat(folder)
        if st is None:
            if not _odd(key):  # kept among its parent's subfolders, to be tried again
                lines.append(f"{key}\t-\t")
            continue
        signature = f"{st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"
        listed = names.get(key) if signatures.get(key) == signature else None
        if listed is not None and st.st_mtime_ns >= trusted:
            racy, listed = True, None  # changed too close to the index being written to tell
        kinds = [kind_of_name(name) for name in listed] if listed is not None else []
        if listed is not None and None not in kinds:  # (a name of no kind: the index was damaged)
            prefix = folder + os.sep
            for name, kind in zip(listed, kinds, strict=True):
                files.append((prefix + name, kind, False, *_signature(kind, _stat(prefix + name))))  # type: ignore[arg-type]
            lines.append(f"{key}\t{signature}\t{'/'.join(listed)}")
            stack.extend(reversed([prefix + name for name in children.get(key, [])]))
            continue
        listing = scan_folder(folder)
        if listing is None:  # (unreadable, say: its parent's listing does not change when that does)
            if not _odd(key):
                lines.append(f"{key}\t-\t")
            continue
        found, subfolders = listing
        reusable = folder != base  # (creating the index's .govern folder changes the mesh's own)
        for entry, kind in found:
            link = entry.is_symlink()
            reusable = reusable and not link and not _odd(entry.name)
            try:
                st: os.stat_result | None = entry.stat()
            except OSError:
                st = None
            files.append((entry.path, kind, link, *_signature(kind, st)))
        reusable = reusable and not any(_odd(os.path.basename(s)) for s in subfolders)
        if not _odd(key):  # (its parent, listed every time, finds it)
            listed = "/".join(entry.name for entry, _ in found) if reusable else ""
            lines.append(f"{key}\t{signature if reusable else '-'}\t{listed}")
        stack.extend(reversed(subfolders))
    return files, "\n".join(lines), racy


def _odd(name: str) -> bool:
    """Whether a name would break the lines of the index's texts."""
    return "\t" in name or "\n" in name


def _states(text: str) -> dict[str, str]:
    """The stored signatures' text as path -> kind and signature. A path may hold a tab (the fields
    are taken from the right); one holding a line break gives lines that match no file, which is
    then read again."""
    states: dict[str, str] = {}
    for line in text.split("\n") if text else ():
        fields = line.rsplit("\t", 2)
        if len(fields) == 3:
            states[fields[0]] = f"{fields[1]}\t{fields[2]}"
    return states


def _write(file: Path, index: MeshIndex, signatures: str, folders: str) -> None:
    """Save atomically; a mesh that cannot be written to simply has no saved index."""
    data = {
        "version": INDEX_VERSION,
        "written_ns": time.time_ns(),
        "files": signatures,
        "folders": folders,
        "products": index.products,
        "contracts": index.contracts,
        "facts": index.facts.to_json(),
    }
    save_json(file, data)


def save_json(path: Path, value: Any) -> None:
    """Write ``value`` to ``path`` as JSON, atomically (a temporary file renamed into place, so no
    reader sees half of it), creating its folder. A path that cannot be written, or a value that
    is not JSON, is not saved: the index only ever saves time."""
    try:
        text = json.dumps(value, separators=(",", ":"))  # at once: json.dump to a file encodes in Python
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(text, encoding="utf-8")
        try:
            os.replace(temporary, path)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
    except (OSError, TypeError, ValueError):
        pass
