"""The one place that pins the JavaScript/CSS that asv's published pages load.

asv 0.6.6 writes ``index.html`` with ``<script>``/``<link>`` tags pointing at public CDNs
(``asv/www/index.html``). :mod:`perfharness.site.offline` replaces each of those URLs with a copy
served from the site itself. Every copy comes from an npm registry tarball whose ``dist.integrity``
is pinned here, and every file taken out of a tarball has its own pinned SHA-256.

Where the npm file is byte-identical to the CDN file, ``sri`` equals the ``integrity`` attribute
asv itself writes, so the browser checks exactly what asv intended. Two references cannot be had
byte-identical from a registry; each says so in ``note``.

To change a pin: ``npm view NAME@VERSION dist.integrity`` for the tarball, and
``openssl dgst -sha256 -binary FILE | base64`` for each file.
"""

from __future__ import annotations

from dataclasses import dataclass

NPM_REGISTRY = "https://registry.npmjs.org"
VENDOR_DIR = "vendor"  # below the site root


@dataclass(frozen=True)
class NpmPackage:
    """One npm tarball: ``integrity`` is npm's ``dist.integrity`` (sha512, SRI form)."""

    name: str
    version: str
    integrity: str

    @property
    def spec(self) -> str:
        """``name@version``, as npm writes it."""
        return f"{self.name}@{self.version}"

    @property
    def tarball_name(self) -> str:
        """The tarball's file name in the registry (unscoped packages only)."""
        return f"{self.name}-{self.version}.tgz"


@dataclass(frozen=True)
class VendorFile:
    """One file inside a package tarball (``path`` is relative to the tarball's top folder)."""

    package: str
    path: str
    sri: str


@dataclass(frozen=True)
class Reference:
    """A CDN URL exactly as asv 0.6.6's templates write it, and the vendored file that replaces it."""

    url: str
    file: VendorFile
    note: str = ""


PACKAGES: dict[str, NpmPackage] = {
    p.name: p
    for p in (
        NpmPackage(
            "jquery",
            "3.3.1",
            "sha512-Ubldcmxp5np52/ENotGxlLe6aGMvmF4R8S6tZjsP6Knsaxd/xp3Zrh50cG93lR6nPXyUFwzN3ZSOQI0wRJNdGg==",
        ),
        NpmPackage(
            "flot",
            "0.8.3",
            "sha512-xg2otcTJDvS+ERK+my4wxG/ASq90QURXtoM4LhacCq0jQW2jbyjdttbRNqU2cPykrpMvJ6b2uSp6SAgYAzj9tQ==",
        ),
        NpmPackage(
            "flot-orderbars",
            "1.0.0",
            "sha512-Jv51fvzevUjNXEeozpwEKfPjhiZhfiJddv0WHjduUTCmSF+7T5K7C9c9Y1wIVmUhDBv5fLMjgbwKecT0GIKPZA==",
        ),
        NpmPackage(
            "stupid-table-plugin",
            "1.1.3",
            "sha512-2Vk7XouQPxUQPRe9w0Fu7ZZ8kHLK7rDoLMsCgtKxRNJ7f4dSOGvW9CkHsq5wD6QsaEnWoyLBYH3xOEsrK3yWBg==",
        ),
        NpmPackage(
            "blueimp-md5",
            "2.19.0",
            "sha512-DRQrD6gJyy8FbiE4s+bDoXS9hiW3Vbx5uCdwvcCf3zLHL+Iv7LtGHLpr+GZV8rHG8tK766FGYBwRbu8pELTt+w==",
        ),
        NpmPackage(
            "bootstrap",
            "3.1.1",
            "sha512-TAzqS8E/ISpVHP29gYhy+1NSV+FJwApDVQhDfgLYsIuUDJiqJzH2DfORN5tiu+Ie2iBLrzEG34t4Rf465cigqg==",
        ),
    )
}

_FLOT_NOTE = (
    "cdnjs serves its own minification of flot 0.8.3; npm ships the same release unminified, "
    "so this file is the 0.8.3 source and its hash is ours, not asv's"
)
_STUPIDTABLE_NOTE = (
    "stupidtable 1.0.1 (cdnjs) was never published to npm; stupid-table-plugin 1.1.3 is the only "
    "release there and keeps the API asv uses ($.fn.stupidtable(sortFns), 'aftertablesort')"
)

_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_JSDELIVR = "https://cdn.jsdelivr.net/npm"

REFERENCES: tuple[Reference, ...] = (
    Reference(
        "https://code.jquery.com/jquery-3.3.1.min.js",
        VendorFile("jquery", "dist/jquery.min.js", "sha256-FgpCb/KJQlLNfOu91ta32o/NMZxltwRo8QtmkMRdAu8="),
    ),
    Reference(
        f"{_CDNJS}/flot/0.8.3/jquery.flot.min.js",
        VendorFile("flot", "jquery.flot.js", "sha256-t7kx8nPDixJ3ucbB9OBcTsCYhaSHvdrzJ54tfkmjjhI="),
        _FLOT_NOTE,
    ),
    Reference(
        f"{_CDNJS}/flot/0.8.3/jquery.flot.time.min.js",
        VendorFile("flot", "jquery.flot.time.js", "sha256-pYLIMq3HE4prBar2HxbrrCdHAfG+Sv6nfnOaHDS5xBo="),
        _FLOT_NOTE,
    ),
    Reference(
        f"{_CDNJS}/flot/0.8.3/jquery.flot.selection.min.js",
        VendorFile("flot", "jquery.flot.selection.js", "sha256-5shfbB6+S02inYriOMfFBgKD8F9+8FT2uRgX0CwJKRg="),
        _FLOT_NOTE,
    ),
    Reference(
        f"{_CDNJS}/flot/0.8.3/jquery.flot.categories.min.js",
        VendorFile("flot", "jquery.flot.categories.js", "sha256-boFmSyjqeVxzSQb0qhVhRkCnWsf705mn+5CEBAaYNRo="),
        _FLOT_NOTE,
    ),
    Reference(
        f"{_JSDELIVR}/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js",
        VendorFile(
            "flot-orderbars",
            "js/jquery.flot.orderBars.js",
            "sha256-OXNbT0b5b/TgglckAfR8VaJ2ezZv0dHoIeRKjYMKEr8=",
        ),
    ),
    Reference(
        f"{_CDNJS}/stupidtable/1.0.1/stupidtable.min.js",
        VendorFile("stupid-table-plugin", "stupidtable.min.js", "sha256-RkI4Dyjr6e18rCUXk7KB74YgxDhiBdkniPmxL1zOtOA="),
        _STUPIDTABLE_NOTE,
    ),
    Reference(
        f"{_CDNJS}/blueimp-md5/2.19.0/js/md5.min.js",
        VendorFile(
            "blueimp-md5",
            "js/md5.min.js",
            "sha512-8pbzenDolL1l5OPSsoURCx9TEdMFTaeFipASVrMYKhuYtly+k3tcsQYliOEKTmuB1t7yuzAiVo+yd7SJz+ijFQ==",
        ),
    ),
    Reference(
        f"{_JSDELIVR}/bootstrap@3.1.1/dist/js/bootstrap.min.js",
        VendorFile("bootstrap", "dist/js/bootstrap.min.js", "sha256-iY0FoX8s/FEg3c26R6iFw3jAtGbzDwcA5QJ1fiS0A6E="),
    ),
    Reference(
        f"{_JSDELIVR}/bootstrap@3.1.1/dist/css/bootstrap.min.css",
        VendorFile("bootstrap", "dist/css/bootstrap.min.css", "sha256-6VA0SGkrc43SYPvX98q/LhHwm2APqX5us6Vuulsafps="),
    ),
)

# Files a vendored stylesheet loads by relative url(): bootstrap.min.css wants ../fonts/.
SUPPORT_FILES: tuple[VendorFile, ...] = (
    VendorFile(
        "bootstrap",
        "dist/fonts/glyphicons-halflings-regular.eot",
        "sha256-9JXzTk8XfPARWvmVu7/rP8q8iFAodudvxRpKtDm8hDE=",
    ),
    VendorFile(
        "bootstrap",
        "dist/fonts/glyphicons-halflings-regular.svg",
        "sha256-0WjVCojHMLTmgw3A2iorUdrkZYp32WGZQ8J7js/BnRo=",
    ),
    VendorFile(
        "bootstrap",
        "dist/fonts/glyphicons-halflings-regular.ttf",
        "sha256-vRjv0+/XD+yK0JYRogzb+ZRAssHUAIXCm+A2+JHWU1g=",
    ),
    VendorFile(
        "bootstrap",
        "dist/fonts/glyphicons-halflings-regular.woff",
        "sha256-/Jadwcb/Uxq882gIncuvV3UTOwYm/1a1IwGgWfwPnh4=",
    ),
)


def all_files() -> tuple[VendorFile, ...]:
    """Every file the site needs, references first, without repeats."""
    seen: dict[tuple[str, str], VendorFile] = {}
    for f in (*(r.file for r in REFERENCES), *SUPPORT_FILES):
        seen.setdefault((f.package, f.path), f)
    return tuple(seen.values())


def local_path(f: VendorFile) -> str:
    """Where ``f`` lives below the site root (POSIX path, also the URL path)."""
    pkg = PACKAGES[f.package]
    return f"{VENDOR_DIR}/{pkg.name}-{pkg.version}/{f.path}"
