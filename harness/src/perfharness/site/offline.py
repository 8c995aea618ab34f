"""Make a published asv site self-contained: no CDN is contacted when a page is viewed.

``asv publish`` copies ``asv/www/index.html``, whose ``<script>``/``<link>`` tags load jQuery, flot,
bootstrap, stupidtable, md5 and flot-orderbars from public CDNs; offline, the page redirects to asv's
``error.html``. :func:`make_offline` downloads the pinned npm tarballs (:mod:`perfharness.site.vendor`),
checks the tarball's sha512 and each file's own hash, copies the files to ``HTML_DIR/vendor/`` and
points every published HTML file at them.

Example::

    asv publish && python -m perfharness.site offline html
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import posixpath
import re
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from perfharness.site import vendor
from perfharness.site.atomic import write_atomic
from perfharness.site.vendor import NpmPackage, VendorFile

__all__ = ["VendorError", "default_cache_dir", "external_references", "fetch_package", "make_offline"]

log = logging.getLogger(__name__)

# Tags whose URL the browser loads while rendering (anchors are only followed on click).
_TAG_RE = re.compile(r"<(script|link|img)\b[^>]*>", re.IGNORECASE)
_URL_ATTR_RE = re.compile(r"""\b(src|href)(\s*=\s*)(["'])(.*?)\3""", re.IGNORECASE | re.DOTALL)
_INTEGRITY_RE = re.compile(r"""(\bintegrity\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_REL_RE = re.compile(r"""\brel\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_LOADED_RELS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "prefetch"}
_TIMEOUT_S = 60


class VendorError(RuntimeError):
    """A pinned package could not be fetched or verified, or the HTML holds an unpinned CDN URL."""


def default_cache_dir() -> Path:
    """``$GDOPT_VENDOR_CACHE``, else ``$XDG_CACHE_HOME/gdopt/vendor``, else ``~/.cache/gdopt/vendor``."""
    explicit = os.environ.get("GDOPT_VENDOR_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gdopt" / "vendor"


def _registry() -> str:
    return os.environ.get("GDOPT_NPM_REGISTRY", vendor.NPM_REGISTRY).rstrip("/")


def _sri_matches(data: bytes, sri: str) -> bool:
    algo, _, expected = sri.partition("-")
    if algo not in {"sha256", "sha384", "sha512"}:
        raise VendorError(f"unsupported integrity algorithm in pin {sri!r}")
    return base64.b64encode(hashlib.new(algo, data).digest()).decode("ascii") == expected


def _sri_of(data: bytes, algo: str) -> str:
    return f"{algo}-{base64.b64encode(hashlib.new(algo, data).digest()).decode('ascii')}"


def fetch_package(pkg: NpmPackage, cache_dir: Path) -> bytes:
    """Return ``pkg``'s tarball, verified against its pinned ``dist.integrity``; cache it.

    A cached tarball that fails the check is fetched again. Raises :class:`VendorError` naming the
    package when the registry cannot be reached or serves different bytes.
    """
    cached = cache_dir / pkg.tarball_name
    if cached.is_file():
        data = cached.read_bytes()
        if _sri_matches(data, pkg.integrity):
            return data
        log.warning("cached %s fails its integrity check; fetching it again", cached)
    url = f"{_registry()}/{pkg.name}/-/{pkg.tarball_name}"
    log.info("fetching %s from %s", pkg.spec, url)
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
            data = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise VendorError(
            f"could not fetch npm package {pkg.spec} from {url}: {exc}. "
            f"Publishing offline needs it in the cache {cache_dir} (any earlier online publish fills it)."
        ) from exc
    if not _sri_matches(data, pkg.integrity):
        raise VendorError(
            f"npm package {pkg.spec} from {url} fails its integrity check: "
            f"expected {pkg.integrity}, got {_sri_of(data, 'sha512')}"
        )
    write_atomic(cached, data)
    return data


def _member(tar: tarfile.TarFile, path: str) -> bytes | None:
    """The bytes of ``path`` below the tarball's single top folder (npm uses ``package/``)."""
    for info in tar.getmembers():
        if info.isfile() and info.name.split("/", 1)[-1] == path:
            fh = tar.extractfile(info)
            if fh is not None:
                return fh.read()
    return None


def _install_files(html_dir: Path, cache_dir: Path) -> list[Path]:
    """Copy every pinned file into ``html_dir/vendor/``, checking each file's own hash."""
    by_package: dict[str, list[VendorFile]] = {}
    for f in vendor.all_files():
        by_package.setdefault(f.package, []).append(f)
    written: list[Path] = []
    for name, files in by_package.items():
        pkg = vendor.PACKAGES[name]
        todo = [f for f in files if not _installed(html_dir, f)]
        if todo:
            with tarfile.open(fileobj=io.BytesIO(fetch_package(pkg, cache_dir)), mode="r:gz") as tar:
                for f in todo:
                    data = _member(tar, f.path)
                    if data is None:
                        raise VendorError(f"npm package {pkg.spec} has no file {f.path}")
                    if not _sri_matches(data, f.sri):
                        algo = f.sri.partition("-")[0]
                        raise VendorError(
                            f"{f.path} in npm package {pkg.spec} fails its pinned hash: "
                            f"expected {f.sri}, got {_sri_of(data, algo)}"
                        )
                    write_atomic(html_dir / vendor.local_path(f), data)
        written.extend(html_dir / vendor.local_path(f) for f in files)
    return written


def _installed(html_dir: Path, f: VendorFile) -> bool:
    target = html_dir / vendor.local_path(f)
    return target.is_file() and _sri_matches(target.read_bytes(), f.sri)


def _is_loaded(tag_name: str, tag: str) -> bool:
    if tag_name != "link":
        return True
    rel = _REL_RE.search(tag)
    return rel is not None and bool(_LOADED_RELS & set(rel.group(2).lower().split()))


def external_references(html: str) -> list[str]:
    """URLs of scripts, stylesheets and images in ``html`` that a browser would fetch off-site."""
    found = []
    for m in _TAG_RE.finditer(html):
        tag, tag_name = m.group(0), m.group(1).lower()
        url = _URL_ATTR_RE.search(tag)
        if url and _is_external(url.group(4)) and _is_loaded(tag_name, tag):
            found.append(url.group(4))
    return found


def _is_external(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "//"))


def _rewrite(html: str, prefix: str, where: Path) -> tuple[str, list[str]]:
    """Point every pinned CDN URL in ``html`` at its vendored copy below ``prefix``."""
    pinned = {r.url: r.file for r in vendor.REFERENCES}
    rewritten: list[str] = []

    def fix(m: re.Match[str]) -> str:
        tag, tag_name = m.group(0), m.group(1).lower()
        url = _URL_ATTR_RE.search(tag)
        if not url or not _is_external(url.group(4)) or not _is_loaded(tag_name, tag):
            return tag
        f = pinned.get(url.group(4).strip())
        if f is None:
            raise VendorError(
                f"{where} loads {url.group(4)}, which site/vendor.py does not pin (did asv's templates change?)"
            )
        rewritten.append(url.group(4).strip())
        local = posixpath.join(prefix, vendor.local_path(f)) if prefix else vendor.local_path(f)
        tag = tag[: url.start(4)] + local + tag[url.end(4) :]
        if _INTEGRITY_RE.search(tag):
            return _INTEGRITY_RE.sub(lambda i: f"{i.group(1)}{i.group(2)}{f.sri}{i.group(2)}", tag, count=1)
        end = -2 if tag.endswith("/>") else -1
        return f'{tag[:end].rstrip()} integrity="{f.sri}"{tag[end:]}'

    return _TAG_RE.sub(fix, html), rewritten


def make_offline(html_dir: Path, cache_dir: Path | None = None) -> list[str]:
    """Vendor the pinned assets into ``html_dir`` and rewrite its HTML; return the rewritten URLs.

    The list holds each CDN URL replaced, once per occurrence, file by file (sorted). Running it
    again is harmless and returns ``[]``. Raises :class:`VendorError` if a package cannot be fetched
    or verified, or if a page loads an external URL that is not pinned.
    """
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise VendorError(f"{html_dir} has no index.html; run `asv publish` first")
    _install_files(html_dir, cache_dir or default_cache_dir())
    rewritten: list[str] = []
    for page in sorted(html_dir.rglob("*.html")):
        if vendor.VENDOR_DIR in page.relative_to(html_dir).parts:
            continue  # never touch the vendored packages themselves
        text = page.read_text(encoding="utf-8")
        prefix = posixpath.relpath(".", page.parent.relative_to(html_dir).as_posix())
        new_text, refs = _rewrite(text, "" if prefix == "." else prefix, page)
        if refs:
            write_atomic(page, new_text.encode("utf-8"))
            rewritten.extend(refs)
        leftover = external_references(new_text)
        if leftover:
            raise VendorError(f"{page} still loads external URLs: {', '.join(leftover)}")
    return rewritten
