//! A folder or an S3 prefix behind one interface: where the aggregator lands objects and where
//! the analyzer reads them (and writes compacted days and reports).
//!
//! Keys are `/`-separated paths relative to the location (`hits/dt=2026-11-25/x.csv`, see
//! `pagehit::layout`). One [`Store`] is one client: open it once per run and share it.
//!
//! S3 settings come from an [`aws_config::SdkConfig`], the same one the AWS SDK's clients use:
//! region, endpoint (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, profile `endpoint_url`) and
//! credentials from the default chain (environment, profiles, SSO, web identity, ECS and EC2
//! roles). The aggregator hands over the config its Kinesis client was built from, so S3 and
//! Kinesis always agree.
//!
//! **Architecture Invariant:** this crate knows object keys only as strings; what the keys
//! mean (the layout) is `pagehit::layout`'s. It knows nothing of hits, CSV or Parquet.

mod credentials;
mod location;

pub use location::Location;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};
use std::sync::Arc;

/// A location opened for reading and writing.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    location: Location,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.location)
    }
}

/// What a create-only put found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The object is new.
    Created,
    /// An object with that key exists; nothing was written.
    AlreadyThere,
}

/// One object found by [`Store::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its key, relative to the location.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Store {
    /// Opens `location`. For S3 the settings come from the AWS SDK's default chain (loaded
    /// here); a folder must exist (a missing source folder is a mistake, not an empty one).
    pub async fn open(location: &Location) -> Result<Store> {
        match location {
            Location::Dir(_) => Self::open_with(location, None).await,
            Location::S3 { .. } => {
                let config = aws_config::load_from_env().await;
                Self::open_with(location, Some(&config)).await
            }
        }
    }

    /// Opens `location` for writing, creating a folder that does not exist yet.
    pub async fn create(location: &Location) -> Result<Store> {
        if let Location::Dir(dir) = location {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating folder {}", dir.display()))?;
        }
        Self::open(location).await
    }

    /// Opens `location` with S3 settings from `config` (a config that AWS SDK clients of the
    /// same program use; for a folder it is not needed). Checks that credentials can be
    /// found, so a run without them stops at once with a message saying how to provide them.
    pub async fn open_with(
        location: &Location,
        config: Option<&aws_config::SdkConfig>,
    ) -> Result<Store> {
        let inner: Arc<dyn ObjectStore> = match location {
            Location::Dir(dir) => {
                if !dir.is_dir() {
                    bail!("the folder {} does not exist", dir.display());
                }
                Arc::new(
                    LocalFileSystem::new_with_prefix(dir)
                        .with_context(|| format!("opening folder {}", dir.display()))?,
                )
            }
            Location::S3 { bucket, .. } => {
                let Some(config) = config else {
                    bail!("{location}: S3 needs AWS settings");
                };
                Arc::new(s3(bucket, config).await?)
            }
        };
        Ok(Store {
            inner,
            location: location.clone(),
        })
    }

    /// The location this store was opened on.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// `rel` as a user would name it: a path in the folder or an `s3://` URL (for messages).
    pub fn display(&self, rel: &str) -> String {
        self.location.join_display(rel)
    }

    fn path(&self, rel: &str) -> Result<ObjectPath> {
        let key = self.location.key(rel);
        let key = key.trim_end_matches('/');
        ObjectPath::parse(key).with_context(|| format!("{key:?} is not a valid object key"))
    }

    /// Writes `rel` only if it does not exist yet (`If-None-Match: *` on S3; an exclusive
    /// create in a folder).
    pub async fn put_new(&self, rel: &str, body: impl Into<Bytes>) -> Result<Put> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let payload = PutPayload::from_bytes(body.into());
        match self.inner.put_opts(&self.path(rel)?, payload, opts).await {
            Ok(_) => Ok(Put::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Put::AlreadyThere),
            Err(e) => Err(e).with_context(|| format!("writing {}", self.display(rel))),
        }
    }

    /// Writes `rel`, replacing any previous object. Readers see the old object or the whole
    /// new one, never a part (one PUT on S3; a temporary file renamed in a folder).
    pub async fn put(&self, rel: &str, body: impl Into<Bytes>) -> Result<()> {
        self.inner
            .put(&self.path(rel)?, PutPayload::from_bytes(body.into()))
            .await
            .with_context(|| format!("writing {}", self.display(rel)))?;
        Ok(())
    }

    /// [`Store::put`] with a content type (S3 serves it with the object; a folder ignores it).
    pub async fn put_typed(
        &self,
        rel: &str,
        body: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<()> {
        let mut attributes = object_store::Attributes::new();
        attributes.insert(
            object_store::Attribute::ContentType,
            content_type.to_string().into(),
        );
        let opts = PutOptions {
            attributes,
            ..Default::default()
        };
        let payload = PutPayload::from_bytes(body.into());
        let result = match self.location {
            // The local store keeps no attributes (and refuses them).
            Location::Dir(_) => self.inner.put(&self.path(rel)?, payload).await,
            Location::S3 { .. } => self.inner.put_opts(&self.path(rel)?, payload, opts).await,
        };
        result.with_context(|| format!("writing {}", self.display(rel)))?;
        Ok(())
    }

    /// Uploads a local file to `rel` in parts (files larger than one PUT may hold); visible
    /// whole or not at all, like [`Store::put`].
    pub async fn put_file(&self, rel: &str, file: &std::path::Path) -> Result<()> {
        use tokio::io::AsyncReadExt;
        let what = || format!("uploading {} to {}", file.display(), self.display(rel));
        let upload = self
            .inner
            .put_multipart(&self.path(rel)?)
            .await
            .with_context(what)?;
        let mut writer = WriteMultipart::new(upload);
        let mut f = tokio::fs::File::open(file).await.with_context(what)?;
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = f.read(&mut buf).await.with_context(what)?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await.with_context(what)?;
            writer.write(&buf[..n]);
        }
        writer.finish().await.with_context(what)?;
        Ok(())
    }

    /// Reads a whole object; `None` when it does not exist.
    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        match self.inner.get(&self.path(rel)?).await {
            Ok(r) => {
                Ok(Some(r.bytes().await.with_context(|| {
                    format!("reading {}", self.display(rel))
                })?))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.display(rel))),
        }
    }

    /// Reads an object as a stream of chunks, for objects too large to hold at once.
    pub async fn get_stream(&self, rel: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let display = self.display(rel);
        let got = self
            .inner
            .get(&self.path(rel)?)
            .await
            .with_context(|| format!("reading {display}"))?;
        Ok(got
            .into_stream()
            .map(move |chunk| chunk.with_context(|| format!("reading {display}")))
            .boxed())
    }

    /// Every object under the folder `dir` (relative, e.g. `hits/dt=2026-11-25/`), at any
    /// depth, sorted by key. A folder that does not exist has no objects.
    pub async fn list(&self, dir: &str) -> Result<Vec<Object>> {
        let prefix = self.path(dir)?;
        let base = self.location.key("");
        let found: Vec<object_store::ObjectMeta> =
            match self.inner.list(Some(&prefix)).try_collect().await {
                Ok(found) => found,
                Err(object_store::Error::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e).with_context(|| format!("listing {}", self.display(dir))),
            };
        let mut objects: Vec<Object> = found
            .into_iter()
            .map(|m| Object {
                key: m
                    .location
                    .as_ref()
                    .strip_prefix(&base)
                    .unwrap_or(m.location.as_ref())
                    .to_string(),
                size: m.size,
            })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// Deletes `rel`; deleting what is not there is not an error.
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match self.inner.delete(&self.path(rel)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting {}", self.display(rel))),
        }
    }
}

/// An S3 client for `bucket` with `config`'s region, endpoint and credentials.
async fn s3(bucket: &str, config: &aws_config::SdkConfig) -> Result<impl ObjectStore> {
    let region = config
        .region()
        .map(|r| r.as_ref().to_string())
        // S3 needs a region to sign; us-east-1 is also what S3-compatible stores expect.
        .unwrap_or_else(|| "us-east-1".to_string());
    let credentials = credentials::SdkCredentials::new(config)?;
    credentials.check().await?;
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_credentials(Arc::new(credentials));
    if let Some(endpoint) = s3_endpoint(config) {
        // Emulators and S3-compatible stores (moto, MinIO) speak plain HTTP, path-style.
        builder = builder
            .with_allow_http(endpoint.starts_with("http://"))
            .with_endpoint(endpoint);
    }
    builder
        .build()
        .with_context(|| format!("setting up an S3 client for bucket {bucket:?}"))
}

/// The S3 endpoint the AWS SDK's S3 client would use: `AWS_ENDPOINT_URL_S3` (or a profile's
/// `s3` service `endpoint_url`), else the global `AWS_ENDPOINT_URL`; `None` for AWS itself.
fn s3_endpoint(config: &aws_config::SdkConfig) -> Option<String> {
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("S3")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("every field of the key is set");
    config
        .service_config()
        .and_then(|c| c.load_config(key))
        .or_else(|| config.endpoint_url().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn folder() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let loc = Location::Dir(dir.path().join("site"));
        let store = Store::create(&loc).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn create_only_puts_never_overwrite() {
        let (_dir, store) = folder().await;
        let key = "hits/dt=2026-11-26/shardId-000000000000-1-2.csv";
        assert_eq!(store.put_new(key, "a").await.unwrap(), Put::Created);
        assert_eq!(store.put_new(key, "b").await.unwrap(), Put::AlreadyThere);
        assert_eq!(store.get(key).await.unwrap().unwrap(), "a");
        store.put(key, "c").await.unwrap();
        assert_eq!(store.get(key).await.unwrap().unwrap(), "c");
        assert_eq!(store.get("hits/none.csv").await.unwrap(), None);
    }

    #[tokio::test]
    async fn lists_relative_keys_sorted_and_deletes() {
        let (dir, store) = folder().await;
        for key in [
            "hits/dt=2/b.csv",
            "hits/dt=2/a.csv",
            "hits/dt=3/c.csv",
            "other/x",
        ] {
            store.put(key, key.to_string()).await.unwrap();
        }
        let keys: Vec<String> = store
            .list("hits/dt=2/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(keys, ["hits/dt=2/a.csv", "hits/dt=2/b.csv"]);
        assert_eq!(store.list("hits").await.unwrap().len(), 3);
        assert_eq!(store.list("nothing/here/").await.unwrap(), vec![]);
        store.delete("hits/dt=2/a.csv").await.unwrap();
        store.delete("hits/dt=2/a.csv").await.unwrap();
        assert_eq!(store.list("hits/dt=2").await.unwrap().len(), 1);
        assert!(dir.path().join("site/hits/dt=3/c.csv").exists());
        assert_eq!(
            store.display("hits/x"),
            format!("{}/hits/x", dir.path().join("site").display())
        );
    }

    #[tokio::test]
    async fn streams_and_uploads_large_files() {
        let (dir, store) = folder().await;
        let big: Vec<u8> = (0..20_000_000u32).map(|i| (i % 251) as u8).collect();
        let file = dir.path().join("big.bin");
        std::fs::write(&file, &big).unwrap();
        store.put_file("compacted/big.bin", &file).await.unwrap();
        let mut stream = store.get_stream("compacted/big.bin").await.unwrap();
        let mut back = Vec::new();
        while let Some(chunk) = stream.next().await {
            back.extend_from_slice(&chunk.unwrap());
        }
        assert!(back == big, "the upload and the stream hold the same bytes");
    }

    #[tokio::test]
    async fn a_missing_source_folder_is_an_error() {
        let err = Store::open(&Location::Dir("/no/such/folder".into()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
