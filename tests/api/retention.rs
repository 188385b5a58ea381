//! Raw images: never stored by default; with `capture.retain_images_for` sealed into the
//! data directory and deleted by the sweeper when the period ends.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use thirdfactor::retention::{DIR_NAME, ImageRetention};
use thirdfactor::store::now_ms;
use thirdfactor::templates::TemplateKeys;

use crate::capture_link::open_link;
use crate::capture_steps::upload;
use crate::helpers::{Db, TestApp, spawn_app_with};

/// A photo with no card in it: the document step fails fast, after the upload was taken in.
fn upload_photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(320, 240, |x, y| image::Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

async fn upload_document(app: &TestApp, bytes: Vec<u8>) {
    let mut body = app.seed_body();
    body["config"] = json!("enrollment");
    let created: Value = app.post_session(&body).await.json().await.unwrap();
    let cookie = open_link(app, &created).await;
    let response = upload(app, "document", &cookie, bytes, "image/jpeg").await;
    assert_eq!(response.status(), 422, "no card in the photo");
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
    }
    out
}

#[tokio::test]
async fn by_default_no_raw_image_reaches_disk_or_database() {
    let app = spawn_app_with(Db::Sqlite, |_| {}).await;
    assert!(app.settings.capture.retain_images_for.is_empty(), "off by default");
    let photo = upload_photo();
    upload_document(&app, photo.clone()).await;
    let data_dir = &app.settings.paths.data_dir;
    assert!(!data_dir.join(DIR_NAME).exists());
    // No file in the data directory (database, its WAL, keys) holds any 64-byte run of the upload.
    let probes: Vec<&[u8]> = photo.chunks(64).skip(2).step_by(7).take(20).collect();
    for file in files_under(data_dir) {
        let bytes = std::fs::read(&file).unwrap();
        for probe in &probes {
            assert!(!bytes.windows(probe.len()).any(|w| w == *probe), "upload bytes in {}", file.display());
        }
    }
}

#[tokio::test]
async fn retained_images_are_sealed_and_swept_when_their_period_ends() {
    let app = spawn_app_with(Db::Sqlite, |s| s.capture.retain_images_for = "1h".into()).await;
    let photo = upload_photo();
    upload_document(&app, photo.clone()).await;
    let data_dir = &app.settings.paths.data_dir;
    let files = files_under(&data_dir.join(DIR_NAME));
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert!(file.file_name().unwrap().to_str().unwrap().contains("-document-"));
    assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(file.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    let on_disk = std::fs::read(file).unwrap();
    assert!(!on_disk.windows(64).any(|w| w == &photo[200..264]), "encrypted at rest");

    // The operator's view: same key, same bytes back; the sweeper keeps it until the hour ends.
    let keys = TemplateKeys::load("", &Default::default(), data_dir).unwrap();
    let retention = ImageRetention::new(data_dir, app.settings.image_retention().unwrap(), Arc::new(keys));
    assert_eq!(retention.open(file).unwrap().as_slice(), photo.as_slice());
    assert_eq!(retention.sweep(now_ms()).unwrap(), 0);
    assert_eq!(retention.sweep(now_ms() + 3_600_000).unwrap(), 1);
    assert!(files_under(&data_dir.join(DIR_NAME)).is_empty());
}
