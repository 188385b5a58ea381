//! Multipart uploads from the capture page, bounded before anything is buffered: only the
//! expected parts, only image content types, bytes per part and parts per request limited.

use actix_multipart::Multipart;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::api::error::ApiError;

/// Bounds of one upload.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_part_bytes: usize,
    pub max_parts: usize,
}

const IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];
const MAX_META_BYTES: usize = 16 * 1024;

/// One `image` part (document photo or selfie).
pub async fn read_single_image(mut payload: Multipart, limits: UploadLimits) -> Result<Vec<u8>, ApiError> {
    let mut image = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| invalid(format!("malformed multipart body: {e}")))?;
        let name = field.name().unwrap_or_default().to_string();
        if name != "image" || image.is_some() {
            return Err(invalid(format!(
                "unexpected part {:?}: send exactly one part named \"image\"",
                truncate(&name)
            )));
        }
        check_image_type(&field)?;
        image = Some(read_field(&mut field, limits.max_part_bytes).await?);
    }
    image.ok_or_else(|| invalid("missing the part named \"image\"".into()))
}

/// The liveness answer's metadata part.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstMeta {
    pub nonce: String,
    /// Capture time of each frame, ms since the Unix epoch, in part order.
    pub timestamps: Vec<i64>,
}

/// A `meta` JSON part and `frame` image parts.
pub async fn read_burst(mut payload: Multipart, limits: UploadLimits) -> Result<(BurstMeta, Vec<Vec<u8>>), ApiError> {
    let mut meta = None;
    let mut frames = Vec::new();
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| invalid(format!("malformed multipart body: {e}")))?;
        match field.name().unwrap_or_default() {
            "meta" if meta.is_none() => {
                let bytes = read_field(&mut field, MAX_META_BYTES).await?;
                meta = Some(
                    serde_json::from_slice::<BurstMeta>(&bytes)
                        .map_err(|e| invalid(format!("invalid meta part: {e}")))?,
                );
            }
            "frame" => {
                if frames.len() >= limits.max_parts {
                    return Err(ApiError::bad_request(
                        "too_many_frames",
                        format!("at most {} frames", limits.max_parts),
                    ));
                }
                check_image_type(&field)?;
                frames.push(read_field(&mut field, limits.max_part_bytes).await?);
            }
            other => return Err(invalid(format!("unexpected part {:?}", truncate(other)))),
        }
    }
    let meta = meta.ok_or_else(|| invalid("missing the part named \"meta\"".into()))?;
    if meta.timestamps.len() != frames.len() {
        return Err(invalid(format!("{} timestamps for {} frames", meta.timestamps.len(), frames.len())));
    }
    Ok((meta, frames))
}

fn check_image_type(field: &actix_multipart::Field) -> Result<(), ApiError> {
    let ok = field.content_type().is_some_and(|m| IMAGE_TYPES.contains(&m.essence_str()));
    if ok { Ok(()) } else { Err(ApiError::UnsupportedUpload) }
}

async fn read_field(field: &mut actix_multipart::Field, max: usize) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| invalid(format!("upload interrupted: {e}")))?;
        if buf.len() + chunk.len() > max {
            return Err(ApiError::PayloadTooLarge(max));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("invalid_upload", message)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}
