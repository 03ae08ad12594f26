//! Container image references as a task definition's `image` field holds them
//! (`[registry/]repository[:tag][@digest]`), parsed far enough to answer two questions the
//! rendering asks: is this a reference ECS could pull at all, and is it in the repository we
//! just pushed to. Follows the distribution reference grammar; Docker Hub's implicit
//! `docker.io` and `library/` are filled in so `nginx` and `docker.io/library/nginx` compare
//! equal.

use std::fmt;

/// Where Docker (and ECS) look for a reference without a registry host.
const DEFAULT_REGISTRY: &str = "docker.io";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    #[error("the image reference is empty")]
    Empty,
    #[error("the image reference contains whitespace or a control character")]
    Whitespace,
    #[error("the repository name is longer than 255 characters")]
    TooLong,
    #[error(
        "the repository path component {0:?} is not valid (lowercase letters, digits, and single \
         '.', '_', '__' or '-' runs between them)"
    )]
    BadComponent(String),
    #[error("the registry host {0:?} is not a valid host[:port]")]
    BadRegistry(String),
    #[error(
        "the tag {0:?} is not valid (letters, digits, '_', '.', '-'; at most 128, not starting with '.' or '-')"
    )]
    BadTag(String),
    #[error("the digest {0:?} is not valid (expected sha256: followed by 64 lowercase hex digits)")]
    BadDigest(String),
}

/// A parsed reference. `registry` is lower-cased (host names are case-insensitive);
/// `repository` is the path inside the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(text: &str) -> Result<ImageRef, ImageRefError> {
        if text.is_empty() {
            return Err(ImageRefError::Empty);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ImageRefError::Whitespace);
        }
        let (name_tag, digest) = match text.split_once('@') {
            Some((n, d)) => (n, Some(parse_digest(d)?)),
            None => (text, None),
        };
        // A ':' after the last '/' starts the tag; one before it is a registry port.
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&name_tag[..at], Some(parse_tag(&name_tag[at + 1..])?))
            }
            None => (name_tag, None),
        };
        if name.len() > 255 {
            return Err(ImageRefError::TooLong);
        }
        let (registry, path) = split_registry(name)?;
        for component in path.split('/') {
            check_component(component)?;
        }
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Same registry host and repository path, whatever the tag or digest.
    pub fn same_repository(&self, other: &ImageRef) -> bool {
        self.registry == other.registry && self.repository == other.repository
    }

    /// `registry/repository`, the name error messages use.
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// The first component names a registry only when it looks like a host (has a '.' or a port, or
/// is `localhost`): `payments/api` is a Docker Hub path, `ghcr.io/o/api` is not.
fn split_registry(name: &str) -> Result<(String, &str), ImageRefError> {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            check_registry(first)?;
            Ok((first.to_ascii_lowercase(), rest))
        }
        _ => Ok((DEFAULT_REGISTRY.to_string(), name)),
    }
}

fn check_registry(host: &str) -> Result<(), ImageRefError> {
    let bad = || ImageRefError::BadRegistry(host.to_string());
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, written out to avoid a regex dependency.
fn check_component(c: &str) -> Result<(), ImageRefError> {
    let bad = || ImageRefError::BadComponent(c.to_string());
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(bad());
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let run = &c[start..i];
        let ok = run == "." || run == "_" || run == "__" || run.bytes().all(|b| b == b'-');
        if !ok {
            return Err(bad());
        }
    }
    Ok(())
}

fn parse_tag(tag: &str) -> Result<String, ImageRefError> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(tag.to_string())
    } else {
        Err(ImageRefError::BadTag(tag.to_string()))
    }
}

/// ECR and every registry we push to use sha256; other algorithms would mean the reference was
/// not produced by this tool, so they are refused rather than half-checked.
fn parse_digest(digest: &str) -> Result<String, ImageRefError> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(digest.to_string())
    } else {
        Err(ImageRefError::BadDigest(digest.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_and_normalises() {
        let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
            ("nginx", "docker.io", "library/nginx", None, false),
            (
                "nginx:1.25",
                "docker.io",
                "library/nginx",
                Some("1.25"),
                false,
            ),
            ("octo/api", "docker.io", "octo/api", None, false),
            (
                "localhost:5000/api:v1",
                "localhost:5000",
                "api",
                Some("v1"),
                false,
            ),
            (
                "111122223333.dkr.ecr.eu-west-1.amazonaws.com/payments/api:abc",
                "111122223333.dkr.ecr.eu-west-1.amazonaws.com",
                "payments/api",
                Some("abc"),
                false,
            ),
            ("GHCR.io/octo/api@DIGEST", "ghcr.io", "octo/api", None, true),
        ];
        for (text, registry, repo, tag, has_digest) in cases {
            let text = text.replace("DIGEST", D);
            let r = ImageRef::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.registry, *registry, "{text}");
            assert_eq!(r.repository, *repo, "{text}");
            assert_eq!(r.tag.as_deref(), *tag, "{text}");
            assert_eq!(r.digest.is_some(), *has_digest, "{text}");
        }
    }

    #[test]
    fn refuses_invalid_references() {
        let cases: &[(&str, ImageRefError)] = &[
            ("", ImageRefError::Empty),
            ("api :v1", ImageRefError::Whitespace),
            ("Octo/api", ImageRefError::BadComponent("Octo".into())),
            ("octo/api:", ImageRefError::BadTag(String::new())),
            ("octo/api:-x", ImageRefError::BadTag("-x".into())),
            (
                "octo/api@sha256:abc",
                ImageRefError::BadDigest("sha256:abc".into()),
            ),
            ("octo//api", ImageRefError::BadComponent(String::new())),
            ("octo/a..b", ImageRefError::BadComponent("a..b".into())),
            (
                "reg.io:x/api",
                ImageRefError::BadRegistry("reg.io:x".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(ImageRef::parse(text).unwrap_err(), *want, "{text}");
        }
    }

    #[test]
    fn same_repository_ignores_tag_and_digest() {
        let a = ImageRef::parse(&format!("reg.io/octo/api@{D}")).unwrap();
        assert!(a.same_repository(&ImageRef::parse("reg.io/octo/api:old").unwrap()));
        assert!(a.same_repository(&ImageRef::parse("REG.IO/octo/api").unwrap()));
        assert!(!a.same_repository(&ImageRef::parse("reg.io/octo/api-sidecar").unwrap()));
        assert!(!a.same_repository(&ImageRef::parse("other.io/octo/api").unwrap()));
        assert!(
            ImageRef::parse("nginx")
                .unwrap()
                .same_repository(&ImageRef::parse("docker.io/library/nginx:1").unwrap())
        );
    }
}
