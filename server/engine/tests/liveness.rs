//! Liveness engine on bursts made from the fixture photos with the real models: a synthetic
//! head turn (support/headturn.rs: the photo given depth and rotated) is approved in the asked
//! order only, the same motion of a flat picture and a tilted print are flat, a still burst
//! performs nothing, a wrong nonce or late frames are refused, and a different person is
//! caught. (A second answer to one challenge is refused by the server: tests/api.)

mod common;
#[path = "support/headturn.rs"]
mod headturn;

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use thirdfactor_engine::face::FaceConfig;
use thirdfactor_engine::imaging;
use thirdfactor_engine::liveness::synthetic::tilted_burst;
use thirdfactor_engine::liveness::{Action, Challenge, Frame, LivenessConfig, LivenessEngine, ReasonCode};

const ISSUED_AT: i64 = 1_700_000_000_000;

fn engine() -> LivenessEngine {
    LivenessEngine::new(common::face_models(), FaceConfig::default(), LivenessConfig::default())
}

fn challenge(actions: &[Action]) -> Challenge {
    Challenge { nonce: "n0nce-for-tests".into(), actions: actions.to_vec(), issued_at_ms: ISSUED_AT, window_ms: 8_000 }
}

/// A small copy of a fixture photo (tests stay fast; the page sends ≤ 720 px anyway).
fn small_photo(name: &str) -> RgbImage {
    imaging::fit_within(&common::fixture(name), 360)
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Jpeg).expect("JPEG encodes");
    out.into_inner()
}

/// Frames 100 ms apart, starting 500 ms after the challenge was issued.
fn frames(images: &[RgbImage], start_ms: i64) -> Vec<Frame> {
    images.iter().enumerate().map(|(i, im)| Frame { jpeg: jpeg(im), timestamp_ms: start_ms + 100 * i as i64 }).collect()
}

/// The same photo twelve times with a little sensor-like brightness flicker, so the frames
/// are not byte-identical (that alone would be caught as duplicates).
fn still_burst(photo: &RgbImage) -> Vec<RgbImage> {
    (0..12)
        .map(|i| {
            let mut im = photo.clone();
            let delta = (i % 3) as u8 * 2;
            im.pixels_mut().for_each(|p| p.0 = p.0.map(|v| v.saturating_add(delta)));
            im
        })
        .collect()
}

#[test]
fn a_tilted_photo_is_rejected_as_flat() {
    let photo = small_photo("obama.jpg");
    let burst = tilted_burst(&photo, 12, 35.0);
    let decision = engine().evaluate(
        &challenge(&[Action::TurnLeft, Action::TurnRight]),
        "n0nce-for-tests",
        &frames(&burst, ISSUED_AT + 500),
        None,
    );
    let geometry = decision.details.geometry.as_ref().expect("geometry measured");
    let measures = geometry.measures.expect("landmarks in every frame");
    assert!(!decision.approved);
    assert!(decision.reasons.contains(&ReasonCode::FlatPresentation), "{:?} {measures:?}", decision.reasons);
    assert!(geometry.depth_ratio() < 1.0, "{measures:?}");
    assert_eq!(decision.details.faces.as_ref().map(|f| f.frames_without_face), Some(0));
}

#[test]
fn a_tilted_photo_of_a_small_face_is_flat_despite_landmark_noise() {
    // Biden's face in this small copy is 19 px between the eyes: landmark noise alone gives a
    // tilted photo a whole-face residual above 0.08 IOD, but not above the pixel noise floor.
    let photo = small_photo("biden.jpg");
    let burst = tilted_burst(&photo, 12, 50.0);
    let decision = engine().evaluate(
        &challenge(&[Action::TurnLeft, Action::TurnRight]),
        "n0nce-for-tests",
        &frames(&burst, ISSUED_AT + 500),
        None,
    );
    let geometry = decision.details.geometry.as_ref().expect("geometry measured");
    let measures = geometry.measures.expect("landmarks in every frame");
    assert!(measures.eye_distance_px < 25.0, "{measures:?}");
    assert!(decision.reasons.contains(&ReasonCode::FlatPresentation), "{:?} {measures:?}", decision.reasons);
}

#[test]
fn steep_tilts_of_a_photo_are_flat_by_their_texture() {
    // At 60–70° the landmark model, shown a strongly foreshortened face, places landmarks off
    // the plane, so their homography residual can look like depth. The texture still moves as
    // one plane, and that decides (docs/liveness-engine.md, flow test).
    let engine = engine();
    for name in ["obama.jpg", "biden.jpg"] {
        let photo = headturn::front_camera_frame(&common::fixture(name), 360);
        for angle in [60.0, 70.0] {
            let burst = tilted_burst(&photo, 12, angle);
            let decision = engine.evaluate(
                &challenge(&[Action::TurnLeft, Action::TurnRight]),
                "n0nce-for-tests",
                &frames(&burst, ISSUED_AT + 500),
                None,
            );
            let geometry = decision.details.geometry.as_ref().expect("geometry measured");
            let flow = geometry.flow.expect("texture tracked");
            assert!(flow.median_px < geometry.thresholds.max_flat_flow_px, "{name} {angle}°: {flow:?}");
            assert!(!geometry.passed, "{name} {angle}°: {geometry:?}");
            assert!(
                decision.reasons.contains(&ReasonCode::FlatPresentation),
                "{name} {angle}°: {:?}",
                decision.reasons
            );
        }
    }
}

#[test]
fn a_still_burst_performs_no_motion_challenge() {
    let photo = small_photo("obama2.jpg");
    let frames = frames(&still_burst(&photo), ISSUED_AT + 500);
    let engine = engine();
    for actions in
        [[Action::TurnLeft, Action::Blink], [Action::TurnRight, Action::LookUp], [Action::LookUp, Action::TurnLeft]]
    {
        let decision = engine.evaluate(&challenge(&actions), "n0nce-for-tests", &frames, None);
        assert!(!decision.approved);
        assert!(decision.reasons.contains(&ReasonCode::ChallengeNotPerformed), "{actions:?}: {:?}", decision.reasons);
        assert!(decision.reasons.contains(&ReasonCode::FlatPresentation), "{:?}", decision.reasons);
        assert!(decision.score < 0.5, "{}", decision.score);
    }
}

#[test]
fn a_wrong_or_replayed_nonce_is_refused_without_analysis() {
    let photo = small_photo("obama.jpg");
    let decision = engine().evaluate(
        &challenge(&[Action::TurnLeft, Action::TurnRight]),
        "an-old-nonce",
        &frames(&still_burst(&photo), ISSUED_AT + 500),
        None,
    );
    assert_eq!(decision.reasons, vec![ReasonCode::FramesInvalid]);
    assert!(!decision.details.nonce_matches);
    assert!(decision.details.frames.is_empty());
}

#[test]
fn frames_outside_the_window_time_out_and_disordered_frames_are_invalid() {
    let photo = small_photo("obama.jpg");
    let engine = engine();
    let c = challenge(&[Action::TurnLeft, Action::TurnRight]);
    let late = engine.evaluate(&c, "n0nce-for-tests", &frames(&still_burst(&photo), ISSUED_AT + 60_000), None);
    assert!(late.reasons.contains(&ReasonCode::Timeout), "{:?}", late.reasons);
    let mut disordered = frames(&still_burst(&photo), ISSUED_AT + 500);
    disordered.swap(3, 7);
    let decision = engine.evaluate(&c, "n0nce-for-tests", &disordered, None);
    assert!(decision.reasons.contains(&ReasonCode::FramesInvalid), "{:?}", decision.reasons);
    assert!(!decision.details.integrity.as_ref().is_some_and(|i| i.monotonic));
}

#[test]
fn byte_identical_frames_are_invalid() {
    let photo = small_photo("obama3.jpg");
    let copies: Vec<RgbImage> = (0..12).map(|_| photo.clone()).collect();
    let decision = engine().evaluate(
        &challenge(&[Action::TurnLeft, Action::Blink]),
        "n0nce-for-tests",
        &frames(&copies, ISSUED_AT + 500),
        None,
    );
    let integrity = decision.details.integrity.as_ref().expect("integrity measured");
    assert_eq!(integrity.exact_duplicates, 11);
    assert!(decision.reasons.contains(&ReasonCode::FramesInvalid));
}

#[test]
fn another_persons_selfie_is_an_identity_change() {
    let engine = engine();
    let face = thirdfactor_engine::face::FaceEngine::new(common::face_models(), FaceConfig::default());
    let biden = face.analyze(&small_photo("biden.jpg")).expect("analysis").face.expect("a face").embedding;
    let obama = face.analyze(&small_photo("obama3.jpg")).expect("analysis").face.expect("a face").embedding;
    let frames = frames(&still_burst(&small_photo("obama2.jpg")), ISSUED_AT + 500);
    let c = challenge(&[Action::TurnLeft, Action::TurnRight]);
    let other = engine.evaluate(&c, "n0nce-for-tests", &frames, Some(&biden));
    assert!(other.reasons.contains(&ReasonCode::IdentityChanged), "{:?}", other.details.identity);
    let same = engine.evaluate(&c, "n0nce-for-tests", &frames, Some(&obama));
    assert!(!same.reasons.contains(&ReasonCode::IdentityChanged), "{:?}", same.details.identity);
}

/// A synthetic head turn (support/headturn.rs: a depth-warped fixture photo) answering
/// `actions` by the fixture `name` framed as the front camera shows a face in the page's oval,
/// as timed JPEG frames starting 500 ms after the challenge.
fn head_turn_frames(name: &str, actions: &[Action], flat: bool) -> Vec<Frame> {
    head_turn_frames_of(&headturn::front_camera_frame(&common::fixture(name), 360), actions, flat)
}

fn head_turn_frames_of(photo: &RgbImage, actions: &[Action], flat: bool) -> Vec<Frame> {
    let face = thirdfactor_engine::face::FaceEngine::new(common::face_models(), FaceConfig::default());
    let landmarks = headturn::landmarks_of(&face, photo).expect("a face in the fixture");
    let script = headturn::Script { start_ms: ISSUED_AT + 500, flat, ..headturn::Script::new(actions) };
    let rendered = headturn::head_turn(photo, &landmarks, &script).expect("renderable script");
    rendered.iter().map(|f| Frame { jpeg: jpeg(&f.image), timestamp_ms: f.timestamp_ms }).collect()
}

#[test]
fn a_synthetic_head_turn_is_approved_and_the_reversed_order_is_not() {
    let engine = engine();
    for (name, actions) in
        [("obama.jpg", [Action::TurnLeft, Action::TurnRight]), ("biden.jpg", [Action::TurnRight, Action::LookUp])]
    {
        let frames = head_turn_frames(name, &actions, false);
        let decision = engine.evaluate(&challenge(&actions), "n0nce-for-tests", &frames, None);
        let geometry = decision.details.geometry.as_ref();
        assert!(
            decision.approved,
            "{name} {actions:?}: {:?} {:?} {geometry:?}",
            decision.reasons, decision.details.challenge
        );
        assert!(decision.score > 0.5, "{}", decision.score);
        let reversed = [actions[1], actions[0]];
        let decision = engine.evaluate(&challenge(&reversed), "n0nce-for-tests", &frames, None);
        assert_eq!(decision.reasons, vec![ReasonCode::ChallengeNotPerformed], "{name} {reversed:?}");
    }
}

#[test]
fn frames_between_detector_runs_follow_the_face_like_the_detector() {
    // The default runs the detector on every other frame; the frames between find the face from
    // the previous frame's landmarks. On a head turn their poses must agree with the detector's.
    let actions = [Action::TurnLeft, Action::TurnRight];
    let frames = head_turn_frames("obama.jpg", &actions, false);
    let every_frame = LivenessEngine::new(
        common::face_models(),
        FaceConfig::default(),
        LivenessConfig { detect_every: 1, ..LivenessConfig::default() },
    );
    let tracked = engine().analyze(&frames, false);
    let detected = every_frame.analyze(&frames, false);
    let tracked_indices: Vec<usize> = tracked.iter().filter(|f| f.report.tracked).map(|f| f.report.index).collect();
    assert!(tracked_indices.len() >= frames.len() / 2 - 1, "tracked frames {tracked_indices:?}");
    assert!(detected.iter().all(|f| !f.report.tracked));
    for i in tracked_indices {
        let (t, d) = (tracked[i].report.pose.expect("pose"), detected[i].report.pose.expect("pose"));
        assert!((t.yaw - d.yaw).abs() < 4.0 && (t.pitch - d.pitch).abs() < 4.0, "frame {i}: {t:?} vs {d:?}");
        let iou = tracked[i].report.face_box.expect("box").iou(&detected[i].report.face_box.expect("box"));
        assert!(iou > 0.7, "frame {i}: box IoU {iou}");
    }
}

#[test]
fn the_same_motion_of_a_flat_picture_is_rejected_as_flat() {
    let actions = [Action::TurnLeft, Action::TurnRight];
    let frames = head_turn_frames("obama.jpg", &actions, true);
    let decision = engine().evaluate(&challenge(&actions), "n0nce-for-tests", &frames, None);
    let geometry = decision.details.geometry.as_ref().expect("geometry measured");
    assert!(decision.reasons.contains(&ReasonCode::FlatPresentation), "{:?} {geometry:?}", decision.reasons);
    let flow = geometry.flow.expect("texture tracked");
    assert!(flow.median_px < geometry.thresholds.max_flat_flow_px, "{flow:?}");
    assert!(!decision.approved);
}

#[test]
fn a_face_swapped_in_while_turned_breaks_the_track() {
    // Only near-frontal frames are embedded, so the swap must be caught by the face track:
    // the turned frames come from another person's head turn, filmed elsewhere in the picture
    // (the whole fixture photos: the two heads sit at different places). The same swap at the
    // same place and size is not caught: docs/liveness-engine.md, limitations.
    let actions = [Action::TurnLeft, Action::TurnRight];
    let mut frames = head_turn_frames_of(&small_photo("obama.jpg"), &actions, false);
    let other = head_turn_frames_of(&small_photo("biden.jpg"), &actions, false);
    for i in [4, 5, 6, 13, 14, 15] {
        frames[i].jpeg = other[i].jpeg.clone();
    }
    let decision = engine().evaluate(&challenge(&actions), "n0nce-for-tests", &frames, None);
    let identity = decision.details.identity.as_ref().expect("identity measured");
    assert!(decision.reasons.contains(&ReasonCode::IdentityChanged), "{:?} {identity:?}", decision.reasons);
    assert!(identity.min_track_iou.is_some_and(|iou| iou < identity.track_iou_threshold), "{identity:?}");
}

#[test]
fn blink_cannot_be_synthesised() {
    let script = headturn::Script::new(&[Action::TurnLeft, Action::Blink]);
    let photo = RgbImage::new(32, 32);
    let landmarks = thirdfactor_engine::face::landmarks::Landmarks68(vec![Default::default(); 68]);
    assert_eq!(
        headturn::head_turn(&photo, &landmarks, &script).err(),
        Some(headturn::HeadTurnError::Unsupported(Action::Blink))
    );
}
