//! A location as users write it: a local folder or `s3://BUCKET/PREFIX`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A folder or an S3 bucket and key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local folder.
    Dir(PathBuf),
    /// An S3 bucket and a key prefix without leading or trailing slashes (may be empty).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix, e.g. `analytics` for `s3://bucket/analytics/`.
        prefix: String,
    },
}

impl FromStr for Location {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("an empty location: give a folder or s3://BUCKET/PREFIX".into());
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("{s:?} has no bucket name: use s3://BUCKET/PREFIX"));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if s.contains("://") {
            return Err(format!(
                "{s:?}: only s3:// URLs and local folders are supported"
            ));
        }
        Ok(Location::Dir(PathBuf::from(s)))
    }
}

impl Location {
    /// The location of `rel` (a `/`-separated relative path) inside this one, for messages.
    pub fn join_display(&self, rel: &str) -> String {
        match self {
            Location::Dir(dir) => dir.join(rel).display().to_string(),
            Location::S3 { bucket, .. } => format!("s3://{bucket}/{}", self.key(rel)),
        }
    }

    /// The object key of `rel` under an S3 prefix (`prefix/rel`, or `rel` when there is none);
    /// in a folder, `rel` itself.
    pub fn key(&self, rel: &str) -> String {
        match self {
            Location::S3 { prefix, .. } if !prefix.is_empty() => format!("{prefix}/{rel}"),
            _ => rel.to_string(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Dir(dir) => write!(f, "{}", dir.display()),
            Location::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_and_folders() {
        assert_eq!(
            "s3://bkt/a/b/".parse(),
            Ok(Location::S3 {
                bucket: "bkt".into(),
                prefix: "a/b".into()
            })
        );
        assert_eq!(
            "s3://bkt".parse(),
            Ok(Location::S3 {
                bucket: "bkt".into(),
                prefix: "".into()
            })
        );
        assert_eq!("data/x".parse(), Ok(Location::Dir("data/x".into())));
        assert!("s3:///x".parse::<Location>().is_err());
        assert!("gs://b/x".parse::<Location>().is_err());
        assert!("".parse::<Location>().is_err());
    }

    #[test]
    fn keys_and_display() {
        let l: Location = "s3://bkt/pre/".parse().unwrap();
        assert_eq!(l.key("hits/dt=2026-11-25/"), "pre/hits/dt=2026-11-25/");
        assert_eq!(l.to_string(), "s3://bkt/pre");
        assert_eq!(
            l.join_display("hits/dt=2026-11-25/"),
            "s3://bkt/pre/hits/dt=2026-11-25/"
        );
        let root: Location = "s3://bkt".parse().unwrap();
        assert_eq!(root.key("hits/x.csv"), "hits/x.csv");
        assert_eq!(root.join_display("hits/x.csv"), "s3://bkt/hits/x.csv");
        let dir: Location = "/tmp/d".parse().unwrap();
        assert_eq!(dir.join_display("hits/x.csv"), "/tmp/d/hits/x.csv");
    }
}
