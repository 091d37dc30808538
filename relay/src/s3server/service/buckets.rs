//! CreateBucket, HeadBucket, ListBuckets and DeleteBucket.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::s3server::policy::S3Op;

use super::errors::to_s3;
use super::Backend;

pub(super) async fn create(
    b: &Backend,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let bucket = &req.input.bucket;
    b.authorize(&req, S3Op::CreateBucket, bucket, None).await?;
    b.store.create_bucket(bucket).await.map_err(to_s3)?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{bucket}")),
    }))
}

pub(super) async fn head(
    b: &Backend,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let bucket = &req.input.bucket;
    b.authorize(&req, S3Op::HeadBucket, bucket, None).await?;
    b.store.head_bucket(bucket).await.map_err(to_s3)?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(b.region.clone()),
        ..Default::default()
    }))
}

pub(super) async fn list(
    b: &Backend,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    b.authorize(&req, S3Op::ListBuckets, "", None).await?;
    let prefix = req.input.prefix.as_deref().unwrap_or("");
    let buckets = b
        .store
        .list_buckets()
        .await
        .map_err(to_s3)?
        .into_iter()
        .filter(|info| info.name.starts_with(prefix))
        .map(|info| Bucket {
            name: Some(info.name),
            creation_date: Some(Timestamp::from(info.created)),
            bucket_region: Some(b.region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        prefix: req.input.prefix.clone(),
        ..Default::default()
    }))
}

pub(super) async fn delete(
    b: &Backend,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let bucket = &req.input.bucket;
    b.authorize(&req, S3Op::DeleteBucket, bucket, None).await?;
    b.store.delete_bucket(bucket).await.map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}
