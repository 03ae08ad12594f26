//! `Store`: files of an image on disk, either a directory or a tar read *in place*. A tar is
//! scanned once for its members' offsets and sizes (seeking over the data, not reading it), and a
//! member is then read as a byte range of the tar file: nothing is extracted to a temporary
//! directory and no blob is ever held in memory. Links between members (legacy `docker save`
//! writes a symlink for a layer it already holds) resolve to the member they point at.

use std::collections::HashMap;
use std::io::{Read, SeekFrom};
use std::path::{Component, Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncSeekExt, Take};

use super::SourceError;

/// Where a file's bytes are: a whole file, or a range of a tar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub offset: u64,
    /// `None` for a plain file: read it to its end.
    pub len: Option<u64>,
}

/// A blob's bytes as read from disk, before verification.
pub type BlobReader = Take<tokio::fs::File>;

/// A regular file inside a tar: where its data starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub offset: u64,
    pub size: u64,
}

#[derive(Debug)]
pub enum Store {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        members: HashMap<String, Member>,
    },
}

/// Manifests, index.json and configs are small; anything bigger is not what we think it is.
pub const SMALL_FILE_LIMIT: u64 = 8 * 1024 * 1024;

impl Store {
    /// A directory as is, a file as a tar.
    pub async fn open(path: &Path) -> Result<Store, SourceError> {
        let meta = std::fs::metadata(path)
            .map_err(|e| SourceError::io(path, "open the image source", e))?;
        if meta.is_dir() {
            return Ok(Store::Dir(path.to_owned()));
        }
        let file = path.to_owned();
        let scanned = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || scan_tar(&file))
                .await
                .expect("tar scan task panicked")
        };
        let members = scanned
            .map_err(|e| SourceError::io(path, "read it as a directory or a tar archive", e))?;
        Ok(Store::Tar { file, members })
    }

    /// The file or tar this store reads, for messages.
    pub fn path(&self) -> &Path {
        match self {
            Store::Dir(p) => p,
            Store::Tar { file, .. } => file,
        }
    }

    pub fn is_tar(&self) -> bool {
        matches!(self, Store::Tar { .. })
    }

    pub async fn exists(&self, name: &str) -> bool {
        self.locate(name).await.is_ok()
    }

    /// Where member `name` (a `/`-separated path inside the layout or archive) is. A directory's
    /// member is one `stat` on the calling thread: cheaper than a hand-off to the blocking pool
    /// (see `read_small`).
    pub async fn locate(&self, name: &str) -> Result<Location, SourceError> {
        let missing = || SourceError::Missing {
            source_path: self.path().to_owned(),
            member: name.to_owned(),
        };
        let rel = normalize(name).ok_or_else(missing)?;
        match self {
            Store::Dir(dir) => {
                let file = dir.join(&rel);
                match std::fs::metadata(&file) {
                    Ok(m) if m.is_file() => Ok(Location {
                        file,
                        offset: 0,
                        len: None,
                    }),
                    _ => Err(missing()),
                }
            }
            Store::Tar { file, members } => {
                let m = members.get(&rel).ok_or_else(missing)?;
                Ok(Location {
                    file: file.clone(),
                    offset: m.offset,
                    len: Some(m.size),
                })
            }
        }
    }

    /// Open a member for streaming.
    pub async fn open_member(&self, loc: &Location) -> Result<BlobReader, SourceError> {
        open_location(loc).await
    }

    /// Read a small member (index.json, a manifest, a config) whole: one open and one read of
    /// its known size, on the calling thread. The source is read before any network work, and
    /// a read of a few KiB costs less than the blocking pool's round trip per read (tokio's
    /// file reads would also grow their buffer from 32 bytes, one round trip each).
    pub async fn read_small(&self, name: &str) -> Result<Vec<u8>, SourceError> {
        let loc = self.locate(name).await?;
        let out =
            read_whole(&loc).map_err(|e| SourceError::io(&loc.file, &format!("read {name}"), e))?;
        if out.len() as u64 > SMALL_FILE_LIMIT {
            return Err(SourceError::Invalid {
                source_path: self.path().to_owned(),
                reason: format!("{name} is larger than {SMALL_FILE_LIMIT} bytes"),
            });
        }
        Ok(out)
    }
}

/// The bytes at `loc`, up to one byte past `SMALL_FILE_LIMIT` (which tells "too big" from
/// "exactly the limit"), read into a buffer of the size the file or tar member says.
fn read_whole(loc: &Location) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(&loc.file)?;
    let len = match loc.len {
        Some(len) => len,
        None => f.metadata()?.len(),
    };
    if loc.offset > 0 {
        std::io::Seek::seek(&mut f, SeekFrom::Start(loc.offset))?;
    }
    let limit = loc.len.unwrap_or(u64::MAX).min(SMALL_FILE_LIMIT + 1);
    let mut out = Vec::with_capacity(len.min(limit) as usize);
    f.take(limit).read_to_end(&mut out)?;
    Ok(out)
}

pub async fn open_location(loc: &Location) -> Result<BlobReader, SourceError> {
    let mut f = tokio::fs::File::open(&loc.file)
        .await
        .map_err(|e| SourceError::io(&loc.file, "open it", e))?;
    if loc.offset > 0 {
        f.seek(SeekFrom::Start(loc.offset))
            .await
            .map_err(|e| SourceError::io(&loc.file, "seek in it", e))?;
    }
    Ok(f.take(loc.len.unwrap_or(u64::MAX)))
}

/// `a/./b`, `./a/b`, `/a/b` -> `a/b`; `None` for a path that climbs out (`../x`).
fn normalize(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn scan_tar(path: &Path) -> std::io::Result<HashMap<String, Member>> {
    let file = std::fs::File::open(path)?;
    let mut archive = tar::Archive::new(file);
    let mut members = HashMap::new();
    let mut links = Vec::new();
    for entry in archive.entries_with_seek()? {
        let entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let Some(name) = normalize(&name) else {
            continue;
        };
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                members.insert(
                    name,
                    Member {
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    },
                );
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                if let Some(target) = entry.link_name()? {
                    let hard = entry.header().entry_type() == tar::EntryType::Link;
                    links.push((name, target.to_string_lossy().into_owned(), hard));
                }
            }
            _ => {}
        }
    }
    // A symlink's target is relative to its directory, a hard link's to the archive root.
    for (name, target, hard) in links {
        let resolved = if hard {
            normalize(&target)
        } else {
            let dir = Path::new(&name)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            normalize(&format!("{dir}/{target}"))
        };
        if let Some(m) = resolved.and_then(|r| members.get(&r).copied()) {
            members.insert(name, m);
        }
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalizes_member_names() {
        let cases = [
            ("./index.json", Some("index.json")),
            ("/blobs/sha256/ab", Some("blobs/sha256/ab")),
            ("abc/../def/layer.tar", Some("def/layer.tar")),
            ("../escape", None),
            (".", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).as_deref(), want, "{input}");
        }
    }
}
