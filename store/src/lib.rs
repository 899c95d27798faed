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

pub mod aws;
mod credentials;
mod folder;
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

/// An object's version: what a conditional put compares. On S3 its ETag; in a folder its
/// inode, modification time and size (every write makes a new file, so a new version).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(pub String);

impl Version {
    /// The version as text (to record it, e.g. in a manifest).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a conditional put ([`Store::put_if`]) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swap {
    /// Written; the object's new version.
    Done(Version),
    /// The object was not at the expected version (or, expecting none, existed): nothing was
    /// written. Someone else wrote it first.
    Lost,
}

/// One object found by [`Store::list_entries`], with what a listing says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its key, relative to the location.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, ms since the Unix epoch (the store's clock).
    pub modified_ms: i64,
    /// Its version, when the store gives one in listings (S3 and folders do).
    pub version: Option<Version>,
}

/// One object found by [`Store::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its key, relative to the location.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An object store's error as one message. object_store's messages already hold their whole
/// chain of causes (which `{:#}` would print again, three times over); an S3 error answer is
/// cut to what S3 said.
#[derive(Debug)]
pub struct StoreError(String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

fn between<'t>(text: &'t str, open: &str, close: &str) -> Option<&'t str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn clean(e: object_store::Error) -> StoreError {
    let text = e.to_string();
    if let Some(code) = between(&text, "<Code>", "</Code>") {
        let status = between(&text, "status code: ", ":").unwrap_or("an error");
        let message = between(&text, "<Message>", "</Message>").unwrap_or("");
        return StoreError(format!("S3 answered {status}, {code}: {message}"));
    }
    // The first sentence of a chain that repeats itself.
    let first = text.split(": Error performing").next().unwrap_or(&text);
    let mut out: String = first.chars().take(400).collect();
    if out.len() < first.len() {
        out.push_str("...");
    }
    StoreError(out)
}

/// object_store results with [`StoreError`]s.
trait Clean<T> {
    fn clean(self) -> std::result::Result<T, StoreError>;
}

impl<T> Clean<T> for std::result::Result<T, object_store::Error> {
    fn clean(self) -> std::result::Result<T, StoreError> {
        self.map_err(clean)
    }
}

impl Store {
    /// Opens `location`. For S3 the settings come from the AWS SDK's default chain (loaded
    /// here); a folder must exist (a missing source folder is a mistake, not an empty one).
    pub async fn open(location: &Location) -> Result<Store> {
        match location {
            Location::Dir(_) => Self::open_with(location, None).await,
            Location::S3 { .. } => {
                let config = aws::load_config().await;
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
                // Deleting a folder's last object removes the folder too, as on S3, where
                // folders are only key prefixes.
                Arc::new(
                    LocalFileSystem::new_with_prefix(dir)
                        .with_context(|| format!("opening folder {}", dir.display()))?
                        .with_automatic_cleanup(true),
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

    /// The file of `rel` when this store is a folder.
    fn local(&self, rel: &str) -> Result<Option<std::path::PathBuf>> {
        match &self.location {
            Location::Dir(dir) => {
                // Parsed as object_store would, so a key means the same file either way.
                let key = self.path(rel)?;
                Ok(Some(dir.join(key.as_ref())))
            }
            Location::S3 { .. } => Ok(None),
        }
    }

    /// A durable folder write on a blocking thread (see `folder`).
    async fn write_local(
        &self,
        rel: &str,
        file: std::path::PathBuf,
        body: Bytes,
        from: Option<std::path::PathBuf>,
        mode: folder::Mode<'static>,
        expected: Option<String>,
    ) -> Result<folder::Wrote> {
        let written = tokio::task::spawn_blocking(move || {
            let body = match &from {
                Some(path) => folder::Body::File(path),
                None => folder::Body::Bytes(&body),
            };
            let mode = match mode {
                folder::Mode::If(_) => folder::Mode::If(expected.as_deref()),
                other => other,
            };
            folder::write(&file, body, mode)
        })
        .await
        .context("a folder write stopped")?;
        written.with_context(|| format!("writing {}", self.display(rel)))
    }

    /// Writes `rel` only if it does not exist yet (`If-None-Match: *` on S3; an exclusive
    /// create in a folder, fsynced).
    pub async fn put_new(&self, rel: &str, body: impl Into<Bytes>) -> Result<Put> {
        if let Some(file) = self.local(rel)? {
            let wrote = self
                .write_local(rel, file, body.into(), None, folder::Mode::Create, None)
                .await?;
            return Ok(match wrote {
                folder::Wrote::Done(_) => Put::Created,
                folder::Wrote::Refused => Put::AlreadyThere,
            });
        }
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let payload = PutPayload::from_bytes(body.into());
        match self.inner.put_opts(&self.path(rel)?, payload, opts).await {
            Ok(_) => Ok(Put::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Put::AlreadyThere),
            Err(e) => Err(clean(e)).with_context(|| format!("writing {}", self.display(rel))),
        }
    }

    /// Writes `rel`, replacing any previous object. Readers see the old object or the whole
    /// new one, never a part (one PUT on S3; in a folder a fsynced file renamed into place).
    pub async fn put(&self, rel: &str, body: impl Into<Bytes>) -> Result<()> {
        if let Some(file) = self.local(rel)? {
            self.write_local(rel, file, body.into(), None, folder::Mode::Replace, None)
                .await?;
            return Ok(());
        }
        self.inner
            .put(&self.path(rel)?, PutPayload::from_bytes(body.into()))
            .await
            .clean()
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
        if self.local(rel)?.is_some() {
            return self.put(rel, body).await;
        }
        let opts = PutOptions {
            attributes: content_type_attribute(content_type),
            ..Default::default()
        };
        let payload = PutPayload::from_bytes(body.into());
        self.inner
            .put_opts(&self.path(rel)?, payload, opts)
            .await
            .clean()
            .with_context(|| format!("writing {}", self.display(rel)))?;
        Ok(())
    }

    /// Writes `rel` only if it is at version `expected` now (`None`: only if it does not
    /// exist): `If-Match` (or `If-None-Match: *`) on S3; in a folder, compared and replaced
    /// under an exclusive lock of its folder. Of two writers that read the same version, one
    /// gets [`Swap::Done`] and the other [`Swap::Lost`].
    pub async fn put_if(
        &self,
        rel: &str,
        body: impl Into<Bytes>,
        expected: Option<&Version>,
        content_type: &str,
    ) -> Result<Swap> {
        if let Some(file) = self.local(rel)? {
            let wrote = self
                .write_local(
                    rel,
                    file,
                    body.into(),
                    None,
                    folder::Mode::If(None),
                    expected.map(|v| v.0.clone()),
                )
                .await?;
            return Ok(match wrote {
                folder::Wrote::Done(v) => Swap::Done(Version(v)),
                folder::Wrote::Refused => Swap::Lost,
            });
        }
        let mode = match expected {
            None => PutMode::Create,
            Some(v) => PutMode::Update(object_store::UpdateVersion {
                e_tag: Some(v.0.clone()),
                version: None,
            }),
        };
        let opts = PutOptions {
            mode,
            attributes: content_type_attribute(content_type),
            ..Default::default()
        };
        let payload = PutPayload::from_bytes(body.into());
        match self.inner.put_opts(&self.path(rel)?, payload, opts).await {
            Ok(done) => match done.e_tag {
                Some(tag) => Ok(Swap::Done(Version(tag))),
                None => bail!(
                    "{} answered a put of {} without an ETag: conditional writes need one",
                    self.location,
                    self.display(rel)
                ),
            },
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(Swap::Lost),
            Err(e) => Err(clean(e)).with_context(|| format!("writing {}", self.display(rel))),
        }
    }

    /// Reads a whole object and its version (for a later [`Store::put_if`]); `None` when it
    /// does not exist.
    pub async fn get_versioned(&self, rel: &str) -> Result<Option<(Bytes, Version)>> {
        if let Some(file) = self.local(rel)? {
            let read = tokio::task::spawn_blocking(move || folder::read_versioned(&file))
                .await
                .context("a folder read stopped")?
                .with_context(|| format!("reading {}", self.display(rel)))?;
            return Ok(read.map(|(bytes, v)| (Bytes::from(bytes), Version(v))));
        }
        match self.inner.get(&self.path(rel)?).await {
            Ok(r) => {
                let tag = r.meta.e_tag.clone();
                let bytes = r
                    .bytes()
                    .await
                    .clean()
                    .with_context(|| format!("reading {}", self.display(rel)))?;
                match tag {
                    Some(tag) => Ok(Some((bytes, Version(tag)))),
                    None => bail!(
                        "{} served {} without an ETag: conditional writes need one",
                        self.location,
                        self.display(rel)
                    ),
                }
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(clean(e)).with_context(|| format!("reading {}", self.display(rel))),
        }
    }

    /// Uploads a local file to `rel` in parts (files larger than one PUT may hold); visible
    /// whole or not at all, like [`Store::put`] (in a folder: copied, fsynced, renamed).
    pub async fn put_file(&self, rel: &str, file: &std::path::Path) -> Result<()> {
        self.upload(rel, file, object_store::PutMultipartOptions::default())
            .await
    }

    /// [`Store::put_file`] with a content type (S3 serves it with the object; a folder ignores
    /// it).
    pub async fn put_file_typed(
        &self,
        rel: &str,
        file: &std::path::Path,
        content_type: &str,
    ) -> Result<()> {
        let mut opts = object_store::PutMultipartOptions::default();
        if let Location::S3 { .. } = self.location {
            opts.attributes.insert(
                object_store::Attribute::ContentType,
                content_type.to_string().into(),
            );
        }
        self.upload(rel, file, opts).await
    }

    async fn upload(
        &self,
        rel: &str,
        file: &std::path::Path,
        opts: object_store::PutMultipartOptions,
    ) -> Result<()> {
        use tokio::io::AsyncReadExt;
        let what = || format!("uploading {} to {}", file.display(), self.display(rel));
        if let Some(target) = self.local(rel)? {
            self.write_local(
                rel,
                target,
                Bytes::new(),
                Some(file.to_path_buf()),
                folder::Mode::Replace,
                None,
            )
            .await
            .with_context(what)?;
            return Ok(());
        }
        let upload = self
            .inner
            .put_multipart_opts(&self.path(rel)?, opts)
            .await
            .clean()
            .with_context(what)?;
        let mut writer = WriteMultipart::new(upload);
        let mut f = tokio::fs::File::open(file).await.with_context(what)?;
        let mut buf = vec![0u8; 8 << 20];
        loop {
            let n = f.read(&mut buf).await.with_context(what)?;
            if n == 0 {
                break;
            }
            writer
                .wait_for_capacity(4)
                .await
                .clean()
                .with_context(what)?;
            writer.write(&buf[..n]);
        }
        writer.finish().await.clean().with_context(what)?;
        Ok(())
    }

    /// Reads a whole object; `None` when it does not exist.
    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        match self.inner.get(&self.path(rel)?).await {
            Ok(r) => {
                Ok(Some(r.bytes().await.clean().with_context(|| {
                    format!("reading {}", self.display(rel))
                })?))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(clean(e)).with_context(|| format!("reading {}", self.display(rel))),
        }
    }

    /// Reads an object as a stream of chunks, for objects too large to hold at once.
    pub async fn get_stream(&self, rel: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let display = self.display(rel);
        let got = self
            .inner
            .get(&self.path(rel)?)
            .await
            .clean()
            .with_context(|| format!("reading {display}"))?;
        Ok(got
            .into_stream()
            .map(move |chunk| chunk.clean().with_context(|| format!("reading {display}")))
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
                Err(e) => {
                    return Err(clean(e)).with_context(|| format!("listing {}", self.display(dir)))
                }
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

    /// Every object under the folder `dir` with its size, time and version, sorted by key
    /// (one listing: no request per object).
    pub async fn list_entries(&self, dir: &str) -> Result<Vec<Entry>> {
        let prefix = self.path(dir)?;
        let base = self.location.key("");
        let found: Vec<object_store::ObjectMeta> =
            match self.inner.list(Some(&prefix)).try_collect().await {
                Ok(found) => found,
                Err(object_store::Error::NotFound { .. }) => Vec::new(),
                Err(e) => {
                    return Err(clean(e)).with_context(|| format!("listing {}", self.display(dir)))
                }
            };
        let mut entries: Vec<Entry> = found
            .into_iter()
            .map(|m| Entry {
                key: m
                    .location
                    .as_ref()
                    .strip_prefix(&base)
                    .unwrap_or(m.location.as_ref())
                    .to_string(),
                size: m.size,
                modified_ms: m.last_modified.timestamp_millis(),
                version: m.e_tag.map(Version),
            })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }

    /// Deletes `rel`; deleting what is not there is not an error.
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match self.inner.delete(&self.path(rel)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(clean(e)).with_context(|| format!("deleting {}", self.display(rel))),
        }
    }
}

fn content_type_attribute(content_type: &str) -> object_store::Attributes {
    let mut attributes = object_store::Attributes::new();
    attributes.insert(
        object_store::Attribute::ContentType,
        content_type.to_string().into(),
    );
    attributes
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
        .clean()
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

    #[test]
    fn s3_errors_say_what_s3_said_once() {
        let e = object_store::Error::Generic {
            store: "S3",
            source: "Error performing list request: Error performing GET http://x/bk in 1ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>".into(),
        };
        assert_eq!(
            clean(e).to_string(),
            "S3 answered 404 Not Found, NoSuchBucket: The specified bucket does not exist"
        );
    }

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
