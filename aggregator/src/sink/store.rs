//! An S3 bucket prefix or a local folder behind one interface (object_store), with create-only
//! puts for batch objects and overwriting puts for checkpoints.

use anyhow::{bail, Context, Result};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where objects go: `s3://bucket/prefix` or a folder.
#[derive(Clone)]
pub struct Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    display: String,
}

/// What a create-only put found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The object is new.
    Created,
    /// An object with that key exists: a retried batch; nothing is duplicated.
    AlreadyThere,
}

/// A shard's position: everything up to and including `sequence_number` has landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Last sequence number whose batch landed; empty when none did.
    pub sequence_number: String,
    /// The shard is closed (after a reshard) and was read to its end: its children may start.
    pub shard_end: bool,
}

impl Store {
    /// Opens `s3://bucket[/prefix]` (credentials, region and `AWS_ENDPOINT_URL` from the
    /// environment) or a folder (created if missing).
    pub fn open(location: &str) -> Result<Store> {
        if location.starts_with("s3://") {
            let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
                .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                .ok();
            return Self::s3(location, AmazonS3Builder::from_env(), endpoint.as_deref());
        }
        if location.contains("://") {
            bail!("{location:?}: only s3:// URLs and folders are supported");
        }
        std::fs::create_dir_all(location).with_context(|| format!("creating folder {location}"))?;
        let store = LocalFileSystem::new_with_prefix(location)
            .with_context(|| format!("opening folder {location}"))?;
        Ok(Store {
            store: Arc::new(store),
            prefix: String::new(),
            display: location.to_string(),
        })
    }

    /// Opens `s3://bucket[/prefix]` at `endpoint` with the given credentials, ignoring the
    /// environment (tools and tests that talk to an emulator).
    pub fn open_s3_at(
        location: &str,
        endpoint: &str,
        region: &str,
        key_id: &str,
        secret: &str,
    ) -> Result<Store> {
        let builder = AmazonS3Builder::new()
            .with_region(region)
            .with_access_key_id(key_id)
            .with_secret_access_key(secret);
        Self::s3(location, builder, Some(endpoint))
    }

    fn s3(location: &str, builder: AmazonS3Builder, endpoint: Option<&str>) -> Result<Store> {
        let rest = location.strip_prefix("s3://").unwrap_or(location);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("{location:?}: no bucket; expected s3://BUCKET[/PREFIX]");
        }
        let mut builder = builder.with_bucket_name(bucket);
        if let Some(endpoint) = endpoint {
            // Emulators (moto, MinIO) speak plain HTTP on a path-style endpoint.
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .with_context(|| format!("opening {location}"))?;
        Ok(Store {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
            display: location.to_string(),
        })
    }

    /// The location as the user gave it.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The key prefix inside the bucket (empty for folders).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn path(key: &str) -> Result<Path> {
        Path::parse(key).with_context(|| format!("{key:?} is not a valid object key"))
    }

    /// Writes `key` only if it does not exist yet (`If-None-Match: *` on S3).
    pub async fn put_new(&self, key: &str, body: String) -> Result<Put> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&Self::path(key)?, PutPayload::from(body), opts)
            .await
        {
            Ok(_) => Ok(Put::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Put::AlreadyThere),
            Err(e) => Err(e).with_context(|| format!("writing {}/{key}", self.display)),
        }
    }

    /// Reads an object; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self.store.get(&Self::path(key)?).await {
            Ok(r) => Ok(Some(r.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}/{key}", self.display)),
        }
    }

    /// Keys under `folder` (relative to the prefix), sorted.
    pub async fn list(&self, folder: &str) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let full = self.key(folder);
        let items: Vec<_> = self
            .store
            .list(Some(&Self::path(&full)?))
            .try_collect()
            .await
            .with_context(|| format!("listing {}/{full}", self.display))?;
        let mut keys: Vec<String> = items.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        Ok(keys)
    }

    /// `prefix/rest`, or `rest` without a prefix.
    pub fn key(&self, rest: &str) -> String {
        if self.prefix.is_empty() {
            rest.to_string()
        } else {
            format!("{}/{rest}", self.prefix)
        }
    }

    fn checkpoint_key(&self, stream: &str, shard: &str) -> String {
        self.key(&format!("_checkpoints/{stream}/{shard}"))
    }

    /// The shard's checkpoint, if one was written.
    pub async fn checkpoint(&self, stream: &str, shard: &str) -> Result<Option<Checkpoint>> {
        match self.get(&self.checkpoint_key(stream, shard)).await? {
            Some(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).context("reading a checkpoint")?,
            )),
            None => Ok(None),
        }
    }

    /// Records the shard's position (overwriting); call only after the batch's objects landed.
    pub async fn set_checkpoint(&self, stream: &str, shard: &str, cp: &Checkpoint) -> Result<()> {
        let key = self.checkpoint_key(stream, shard);
        let body = serde_json::to_vec(cp).expect("a checkpoint serialises");
        self.store
            .put(&Self::path(&key)?, PutPayload::from(body))
            .await
            .with_context(|| format!("writing checkpoint {}/{key}", self.display))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn folder_create_only_and_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("out").to_str().unwrap()).unwrap();
        let key = "hits/dt=2026-11-26/shardId-000000000000-1.csv";
        assert_eq!(store.put_new(key, "a".into()).await.unwrap(), Put::Created);
        assert_eq!(
            store.put_new(key, "b".into()).await.unwrap(),
            Put::AlreadyThere
        );
        assert_eq!(
            store.get(key).await.unwrap().unwrap(),
            b"a",
            "never overwritten"
        );
        assert_eq!(store.list("hits").await.unwrap(), vec![key.to_string()]);

        assert_eq!(store.checkpoint("s", "shardId-0").await.unwrap(), None);
        let cp = Checkpoint {
            sequence_number: "42".into(),
            shard_end: false,
        };
        store.set_checkpoint("s", "shardId-0", &cp).await.unwrap();
        let cp2 = Checkpoint {
            sequence_number: "43".into(),
            shard_end: true,
        };
        store.set_checkpoint("s", "shardId-0", &cp2).await.unwrap();
        assert_eq!(store.checkpoint("s", "shardId-0").await.unwrap(), Some(cp2));
        assert!(dir.path().join("out/_checkpoints/s/shardId-0").exists());
    }

    #[test]
    fn locations() {
        assert!(Store::open("s3://").is_err());
        assert!(Store::open("gs://bucket").is_err());
    }
}
