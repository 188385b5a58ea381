//! Set-up before the load: a merchant, persons enrolled by writing their templates into the
//! server's store with the server's template keys (as the API tests' `enroll()` does: test
//! harness, not an API back door), and for each person a selfie and one pre-rendered 12-frame
//! head-turn burst per action sequence the server's challenge can draw. Every burst is checked
//! with the liveness engine before the run, so the answers sent under load are real approvals.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail, ensure};
use image::RgbImage;
use thirdfactor::config::Settings;
use thirdfactor::domain::{ApiKey, WebhookSecret};
use thirdfactor::store::merchants::NewMerchant;
use thirdfactor::store::{Store, now_ms};
use thirdfactor::templates::{TemplateKeys, save_template};
use thirdfactor_engine::face::{Embedding, FaceEngine, MatchKind};
use thirdfactor_engine::imaging::IntakeLimits;
use thirdfactor_engine::liveness::{Action, Challenge, Frame, LivenessEngine};
use thirdfactor_engine::models::ModelSet;

use crate::headturn;

/// Frames per liveness answer (the "12-frame liveness").
pub const FRAMES: usize = 12;
/// Frame interval: 4 frames/s, a phone page sampling its camera during a ~3 s challenge.
const FRAME_MS: i64 = 250;

/// Fixture photos of one person: the template comes from `enroll`, the selfie and the burst
/// from `selfie` (a different photo where the fixtures have one).
const IDENTITIES: &[(&str, &str)] = &[("obama.jpg", "obama2.jpg"), ("biden.jpg", "biden.jpg")];

/// A pre-rendered answer: JPEG frames and their offsets (ms) from the first one.
pub struct Burst {
    pub frames: Vec<Vec<u8>>,
    pub offsets_ms: Vec<i64>,
}

pub struct Identity {
    pub selfie_jpeg: Vec<u8>,
    pub bursts: HashMap<Vec<Action>, Arc<Burst>>,
}

pub struct Person {
    pub merchant_ref: String,
    pub identity: Arc<Identity>,
}

pub struct Merchant {
    pub id: String,
    pub api_key: String,
}

/// Inserts a merchant the way `thirdfactor merchant create` does.
pub async fn merchant(store: &Store, webhook_base: &str) -> anyhow::Result<Merchant> {
    let id = store.next_merchant_id().await?;
    let key = ApiKey::generate();
    let secret = WebhookSecret::generate();
    store
        .insert_merchant(&NewMerchant {
            id: &id,
            name: "Load test",
            api_key_hash: &key.hash(),
            api_key_hint: &key.hint(),
            webhook_base,
            webhook_secret: secret.expose(),
            created_at: now_ms(),
        })
        .await?;
    Ok(Merchant { id, api_key: key.expose().to_string() })
}

/// Every sequence `Challenge::random` can draw from `config`: min..=max actions, no action
/// twice in a row, at least one turn when required.
pub fn possible_sequences(settings: &Settings) -> Vec<Vec<Action>> {
    let c = settings.challenge_config();
    let mut all: Vec<Vec<Action>> = vec![vec![]];
    let mut out = Vec::new();
    for len in 1..=c.max_actions {
        all = all
            .iter()
            .flat_map(|seq| {
                c.actions.iter().filter(|a| seq.last() != Some(*a)).map(|a| [seq.clone(), vec![*a]].concat())
            })
            .collect();
        if len >= c.min_actions {
            out.extend(all.iter().filter(|s| !c.require_turn || s.iter().any(|a| a.is_turn())).cloned());
        }
    }
    out
}

/// A fixture portrait as a 480×640 front-camera picture (the top 3:4 of the photo, where the
/// head is), as the browser tests' fake camera shows it.
fn selfie_frame(root: &Path, photo: &str) -> anyhow::Result<RgbImage> {
    let path = root.join("fixtures/fetched").join(photo);
    let img = image::open(&path).with_context(|| format!("{} (scripts/setup fetches it)", path.display()))?;
    Ok(headturn::front_camera_frame(&img.to_rgb8(), 480))
}

fn jpeg(image: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg)?;
    Ok(out.into_inner())
}

/// Twelve frames, one every `FRAME_MS`, performing `actions`: each action holds its peak for at
/// least one frame interval, and at least one frame between two actions is near neutral, so every
/// movement is seen whatever the count.
fn render_burst(photo: &RgbImage, face: &FaceEngine, actions: &[Action]) -> anyhow::Result<Burst> {
    let landmarks = headturn::landmarks_of(face, photo).ok_or_else(|| anyhow!("no face in the selfie photo"))?;
    let mut script = headturn::Script::new(actions);
    let span = (FRAMES as i64 - 1) * FRAME_MS;
    script.fps = 1000.0 / FRAME_MS as f32;
    script.hold_ms = FRAME_MS / 2;
    script.move_ms = FRAME_MS * 3 / 4;
    let n = actions.len().max(1) as i64;
    let cycle = (span - script.hold_ms + n - 1) / n; // rounded up: the script spans all 12 frames
    script.peak_ms = cycle - 2 * script.move_ms - script.hold_ms;
    let frames = headturn::head_turn(photo, &landmarks, &script).map_err(|e| anyhow!("render {actions:?}: {e}"))?;
    ensure!(frames.len() >= FRAMES, "{} frames for {actions:?}", frames.len());
    let mut burst = Burst { frames: Vec::new(), offsets_ms: Vec::new() };
    for f in frames.into_iter().take(FRAMES) {
        burst.frames.push(jpeg(&f.image)?);
        burst.offsets_ms.push(f.timestamp_ms);
    }
    Ok(burst)
}

/// The liveness engine's verdict on a burst, as the server would give it (same config).
fn check_burst(engine: &LivenessEngine, actions: &[Action], burst: &Burst, selfie: &Embedding) -> anyhow::Result<()> {
    let challenge = Challenge { nonce: "load".into(), actions: actions.to_vec(), issued_at_ms: 0, window_ms: 60_000 };
    let frames: Vec<Frame> = burst
        .frames
        .iter()
        .zip(&burst.offsets_ms)
        .map(|(jpeg, t)| Frame { jpeg: jpeg.clone(), timestamp_ms: 1_000 + t })
        .collect();
    let decision = engine.evaluate(&challenge, "load", &frames, Some(selfie));
    ensure!(decision.approved, "burst {actions:?} is not approved: {:?}", decision.reasons);
    Ok(())
}

/// Selfie, template and every burst of one identity; the template is returned for enrolling.
fn identity(
    root: &Path,
    face: &FaceEngine,
    liveness: &LivenessEngine,
    sequences: &[Vec<Action>],
    (enroll, selfie): (&str, &str),
) -> anyhow::Result<(Identity, Embedding)> {
    let enroll_bytes = std::fs::read(root.join("fixtures/fetched").join(enroll))?;
    let analysis = face.analyze_bytes(&enroll_bytes, &IntakeLimits::default())?;
    let template = analysis.usable_embedding().map_err(|r| anyhow!("{enroll}: unusable face {r:?}"))?.clone();
    let photo = selfie_frame(root, selfie)?;
    let selfie_embedding =
        face.analyze(&photo)?.usable_embedding().map_err(|r| anyhow!("{selfie}: unusable selfie {r:?}"))?.clone();
    let matched = face.verify(&selfie_embedding, &template, MatchKind::SelfieVsTemplate);
    ensure!(matched.matched, "{selfie} does not match {enroll} ({:.3})", matched.score);
    let mut bursts = HashMap::new();
    let mut failures = Vec::new();
    for actions in sequences {
        let burst = render_burst(&photo, face, actions)?;
        if let Err(e) = check_burst(liveness, actions, &burst, &selfie_embedding) {
            failures.push(format!("{selfie}: {e}"));
        }
        bursts.insert(actions.clone(), Arc::new(burst));
    }
    ensure!(failures.is_empty(), "{} of {} bursts fail: {failures:#?}", failures.len(), sequences.len());
    Ok((Identity { selfie_jpeg: jpeg(&photo)?, bursts }, template))
}

/// Renders and checks every identity (CPU-heavy: run off the async runtime).
pub fn identities(root: &Path, settings: &Settings) -> anyhow::Result<(Vec<Arc<Identity>>, Vec<Embedding>, String)> {
    let models = Arc::new(ModelSet::load(&settings.model_config())?);
    let face = FaceEngine::new(models.clone(), settings.face_config());
    let liveness = LivenessEngine::new(models, settings.face_config(), settings.liveness_config());
    let sequences = possible_sequences(settings);
    if sequences.is_empty() {
        bail!("the challenge config allows no sequence");
    }
    let bar = thirdfactor::eval::report::progress(IDENTITIES.len() as u64, "bursts");
    let mut out = (Vec::new(), Vec::new());
    for pair in IDENTITIES {
        let (identity, template) = identity(root, &face, &liveness, &sequences, *pair)?;
        out.0.push(Arc::new(identity));
        out.1.push(template);
        bar.inc(1);
    }
    bar.finish();
    eprintln!("{} identities × {} action sequences rendered and approved locally", out.0.len(), sequences.len());
    Ok((out.0, out.1, face.embedding_version()))
}

/// Enrolls `count` persons, cycling through the identities.
pub async fn enroll(
    store: &Store,
    settings: &Settings,
    merchant_id: &str,
    identities: &[Arc<Identity>],
    templates: &[Embedding],
    version: &str,
    count: usize,
) -> anyhow::Result<Vec<Person>> {
    let keys =
        TemplateKeys::load(&settings.templates.active_key_id, &settings.templates.keys, &settings.paths.data_dir)?;
    let mut persons = Vec::new();
    for i in 0..count {
        let merchant_ref = format!("load-user-{i}");
        let which = i % identities.len();
        save_template(store, &keys, merchant_id, &merchant_ref, version, templates[which].as_slice(), "enroll").await?;
        persons.push(Person { merchant_ref, identity: identities[which].clone() });
    }
    Ok(persons)
}
