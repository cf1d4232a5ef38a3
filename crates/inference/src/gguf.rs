//! Opening and checking a GGUF file before any weights are read.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};

use crate::error::{Error, Result};

const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// A GGUF file whose header parsed and whose tensors all lie inside the file.
#[derive(Debug)]
pub struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    pub reader: BufReader<File>,
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound {
                    path: path.to_owned(),
                }
            } else {
                Error::Io {
                    path: path.to_owned(),
                    source: e,
                }
            }
        })?;
        let file_len = file.metadata().map_err(Error::io(path))?.len();
        let mut reader = BufReader::new(file);
        let mut magic = [0u8; 4];
        if let Err(e) = reader.read_exact(&mut magic) {
            return Err(Error::NotGguf {
                path: path.to_owned(),
                reason: format!("cannot read the magic number: {e}"),
            });
        }
        if &magic != GGUF_MAGIC {
            return Err(Error::NotGguf {
                path: path.to_owned(),
                reason: format!("magic is {magic:02x?}, expected \"GGUF\""),
            });
        }
        reader.seek(SeekFrom::Start(0)).map_err(Error::io(path))?;
        let content = Content::read(&mut reader).map_err(|e| header_error(path, file_len, e))?;
        let gguf = Self {
            path: path.to_owned(),
            content,
            reader,
        };
        gguf.check_tensor_extents(file_len)?;
        Ok(gguf)
    }

    /// Every tensor's bytes must lie inside the file: a truncated download fails here, with
    /// the first tensor that is cut off, rather than deep inside weight loading.
    fn check_tensor_extents(&self, file_len: u64) -> Result<()> {
        let mut infos: Vec<_> = self.content.tensor_infos.iter().collect();
        infos.sort_by_key(|(_, info)| info.offset);
        for (name, info) in infos {
            let elems = info.shape.elem_count();
            let block = info.ggml_dtype.block_size();
            let bytes = (elems / block * info.ggml_dtype.type_size()) as u64;
            let end = self.content.tensor_data_offset + info.offset + bytes;
            if end > file_len {
                return Err(Error::Truncated {
                    path: self.path.clone(),
                    reason: format!(
                        "tensor `{name}` ends at byte {end} but the file has {file_len} bytes"
                    ),
                });
            }
        }
        Ok(())
    }

    pub fn metadata(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    pub fn string(&self, key: &str) -> Result<&str> {
        match self.metadata(key) {
            Some(v) => v
                .to_string()
                .map(String::as_str)
                .map_err(|e| self.bad(format!("{key}: {e}"))),
            None => Err(self.bad(format!("metadata key `{key}` is missing"))),
        }
    }

    pub fn u32(&self, key: &str) -> Result<u32> {
        match self.metadata(key) {
            Some(v) => v
                .to_u32()
                .or_else(|_| v.to_u64().map(|x| x as u32))
                .or_else(|_| v.to_i32().map(|x| x as u32))
                .map_err(|e| self.bad(format!("{key}: {e}"))),
            None => Err(self.bad(format!("metadata key `{key}` is missing"))),
        }
    }

    pub fn string_array(&self, key: &str) -> Result<Vec<String>> {
        let values = match self.metadata(key) {
            Some(v) => v.to_vec().map_err(|e| self.bad(format!("{key}: {e}")))?,
            None => return Err(self.bad(format!("metadata key `{key}` is missing"))),
        };
        values
            .iter()
            .map(|v| {
                v.to_string()
                    .cloned()
                    .map_err(|e| self.bad(format!("{key}: {e}")))
            })
            .collect()
    }

    pub fn i32_array(&self, key: &str) -> Result<Vec<i32>> {
        let values = match self.metadata(key) {
            Some(v) => v.to_vec().map_err(|e| self.bad(format!("{key}: {e}")))?,
            None => return Err(self.bad(format!("metadata key `{key}` is missing"))),
        };
        values
            .iter()
            .map(|v| {
                v.to_i32()
                    .or_else(|_| v.to_u32().map(|x| x as i32))
                    .map_err(|e| self.bad(format!("{key}: {e}")))
            })
            .collect()
    }

    pub fn bad(&self, reason: String) -> Error {
        Error::BadMetadata {
            path: self.path.clone(),
            reason,
        }
    }
}

fn header_error(path: &Path, file_len: u64, err: candle_core::Error) -> Error {
    let reason = err.to_string();
    // candle reports a short header as an I/O "failed to fill whole buffer" or a length that
    // runs past the end of the file; both mean the file was cut off.
    if reason.contains("fill whole buffer")
        || reason.contains("remaining")
        || reason.contains("exceeds")
    {
        Error::Truncated {
            path: path.to_owned(),
            reason: format!("the header does not fit in its {file_len} bytes ({reason})"),
        }
    } else {
        Error::NotGguf {
            path: path.to_owned(),
            reason,
        }
    }
}
