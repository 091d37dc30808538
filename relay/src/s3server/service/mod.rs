//! `s3s::S3` implementation over the [`Store`]: each handler asks the access policy, then
//! translates between S3 shapes and store calls. Operations not listed here fall through to
//! s3s's default, `NotImplemented`.

mod access;
mod body;
mod buckets;
mod errors;
mod list;
mod objects;
mod put;

use std::sync::Arc;

use s3s::config::{S3Config, StaticConfigProvider};
use s3s::dto::*;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Request, S3Response, S3Result, S3};

use super::auth::SingleKeyAuth;
use super::config::{EmbeddedS3Config, MAX_OBJECT_SIZE};
use super::policy::AccessPolicy;
use super::store::Store;

pub(crate) struct Backend {
    store: Store,
    policy: Arc<dyn AccessPolicy>,
    region: String,
}

/// Wires the backend into an s3s service with SigV4 auth for the configured key. With auth
/// set and no `S3Access`, s3s itself refuses anonymous requests before any handler runs.
pub(crate) fn build(
    store: Store,
    policy: Arc<dyn AccessPolicy>,
    config: &EmbeddedS3Config,
) -> S3Service {
    let backend = Backend {
        store,
        policy,
        region: config.region.clone(),
    };
    let mut builder = S3ServiceBuilder::new(backend);
    builder.set_auth(SingleKeyAuth::new(
        &config.access_key_id,
        &config.secret_access_key,
        config.temporary.clone(),
    ));
    let mut limits = S3Config::default();
    // Whole-body XML requests (multi-delete) never need more than an object may hold.
    limits.xml_max_body_size = MAX_OBJECT_SIZE as usize;
    limits.post_object_max_file_size = MAX_OBJECT_SIZE;
    builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(limits))));
    builder.build()
}

#[async_trait::async_trait]
impl S3 for Backend {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        buckets::create(self, req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        buckets::head(self, req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        buckets::list(self, req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        buckets::delete(self, req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        put::put_object(self, req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        objects::get(self, req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        objects::head(self, req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        objects::delete(self, req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        objects::delete_many(self, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        list::list_objects_v2(self, req).await
    }
}
