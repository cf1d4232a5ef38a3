//! One-time rewrite of weights whose quantisation format has no fast CPU kernel in candle.
//!
//! candle's x86 dot product for Q4_1 is a scalar loop; Q8_0 has AVX kernels. Measured on the
//! bundled SmolLM2-135M Q4_1 file (2 cores): Q4_1 decodes at ~12-21 tokens/s, the same weights
//! as Q8_0 at ~45-60. The rewrite (dequantize, quantize, write GGUF) takes about a second and
//! is cached next to the source, so it happens once per model file.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};

use crate::error::{Error, Result};
use crate::gguf::GgufFile;

/// Formats rewritten by default: those without a SIMD dot product in candle on x86.
fn is_slow(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

const DERIVED_FROM_KEY: &str = "tact.derived_from";

/// Where the requantized copy of `source` is cached.
pub fn requantized_path(source: &Path, dtype: GgmlDType, dir: Option<&Path>) -> PathBuf {
    let stem = source
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!("{stem}.tact-{}.gguf", format!("{dtype:?}").to_lowercase());
    dir.unwrap_or_else(|| source.parent().unwrap_or(Path::new(".")))
        .join(name)
}

/// A fingerprint of the source file, stored in the derived file so a changed source is
/// noticed: name, size and modification time.
fn fingerprint(path: &Path) -> Result<String> {
    let meta = fs::metadata(path).map_err(Error::io(path))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(format!("{name}:{}:{mtime}", meta.len()))
}

/// Returns `source` itself when nothing in it is slow; otherwise the cached requantized copy,
/// creating it first if needed.
pub(crate) fn load_requantized(
    source: GgufFile,
    dtype: GgmlDType,
    dir: Option<&Path>,
) -> Result<GgufFile> {
    if !source
        .content
        .tensor_infos
        .values()
        .any(|t| is_slow(t.ggml_dtype))
    {
        return Ok(source);
    }
    let derived = requantized_path(&source.path, dtype, dir);
    let expected = fingerprint(&source.path)?;
    if let Ok(existing) = GgufFile::open(&derived)
        && existing.string(DERIVED_FROM_KEY).ok() == Some(expected.as_str())
    {
        return Ok(existing);
    }
    let started = std::time::Instant::now();
    let source_path = source.path.clone();
    let derived = match requantize(source, dtype, &derived, &expected) {
        Ok(()) => derived,
        Err(err) => {
            // A read-only model directory must not stop the model from loading.
            let fallback = requantized_path(&source_path, dtype, Some(&std::env::temp_dir()));
            tracing::warn!(%err, fallback = %fallback.display(), "cannot cache the requantized model beside its source");
            requantize(GgufFile::open(&source_path)?, dtype, &fallback, &expected)?;
            fallback
        }
    };
    tracing::info!(path = %derived.display(), elapsed_ms = started.elapsed().as_millis() as u64, "requantized model cached");
    GgufFile::open(&derived)
}

/// Writes a copy of `source` with every slow-format tensor converted to `dtype`.
pub(crate) fn requantize(
    mut source: GgufFile,
    dtype: GgmlDType,
    dest: &Path,
    derived_from: &str,
) -> Result<()> {
    let device = Device::Cpu;
    let mut names: Vec<String> = source.content.tensor_infos.keys().cloned().collect();
    names.sort_by_key(|n| source.content.tensor_infos[n].offset);
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let tensor = source.content.tensor(&mut source.reader, &name, &device)?;
        let tensor = if is_slow(tensor.dtype())
            && tensor
                .shape()
                .dims()
                .last()
                .is_some_and(|d| d % dtype.block_size() == 0)
        {
            QTensor::quantize(&tensor.dequantize(&device)?, dtype)?
        } else {
            tensor
        };
        tensors.push((name, tensor));
    }
    let marker = Value::String(derived_from.to_owned());
    let mut metadata: Vec<(&str, &Value)> = source
        .content
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != DERIVED_FROM_KEY)
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    metadata.push((DERIVED_FROM_KEY, &marker));
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();

    let part = dest.with_extension("gguf.part");
    let result = (|| -> Result<()> {
        let mut out = BufWriter::new(File::create(&part).map_err(Error::io(&part))?);
        gguf_file::write(&mut out, &metadata, &tensor_refs)?;
        out.into_inner()
            .map_err(|e| Error::io(&part)(e.into_error()))?
            .sync_all()
            .map_err(Error::io(&part))?;
        fs::rename(&part, dest).map_err(Error::io(dest))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&part);
    }
    result
}
