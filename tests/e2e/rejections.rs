//! The paths that end without approval: another person's selfie, a still photo for the
//! movement check, the camera refused then cancelled, an expired link.

use std::time::Duration;

use serde_json::json;

use crate::browser::{CANCEL_URL, cancel, capture, consent, liveness, message};
use crate::camera;
use crate::world::World;
use crate::{CHALLENGE, DOCUMENT, LIVENESS, SELFIE, valid_card};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_persons_selfie_and_a_still_photo_are_rejected() {
    let world = World::start(|_| {}).await;
    let card = camera::still(&camera::card_photo(&valid_card()), &world.file("card.y4m"));
    let biden = camera::still(&camera::selfie_frame("biden.jpg"), &world.file("biden.y4m"));
    let obama = camera::still(&camera::selfie_frame("obama2.jpg"), &world.file("obama.y4m"));
    let session = world.session("enrollment,liveness,debug", "user-mismatch").await;

    let doc = session.launch(Some(card), &[DOCUMENT], vec![consent(None), capture("document", None, None)]).await;
    let reply = &doc.result(1)["response"];
    assert_eq!(reply["status"], 200, "the valid card is accepted: {reply:#}");
    assert_eq!(reply["body"]["accepted"], true);

    // Joe Biden's selfie against the card's portrait (Barack Obama).
    let run = session.launch(Some(biden), &[SELFIE], vec![capture("selfie", None, Some("06-selfie-rejected"))]).await;
    let step = run.result(0);
    assert_eq!(step["response"]["status"], 422);
    assert_eq!(step["response"]["body"]["reasons"], json!(["face_mismatch"]));
    let feedback = step["feedback"].as_str().unwrap();
    assert!(feedback.contains("does not match") && feedback.contains("Attempts left: 2"), "{feedback}");
    let view = world.session_view(&session.id).await;
    assert_eq!(view["status"], "in_progress", "one failed selfie does not end the session");

    let run = session.launch(Some(obama.clone()), &[SELFIE], vec![capture("selfie", None, None)]).await;
    assert_eq!(run.result(0)["response"]["body"]["accepted"], true, "{:#}", run.result(0));

    // The same still picture for the movement check: no head movement, a flat face.
    let run =
        session.launch(Some(obama), &[CHALLENGE, LIVENESS], vec![liveness(None, Some("09-liveness-rejected"))]).await;
    let step = run.result(0);
    assert_eq!(step["response"]["status"], 422, "{step:#}");
    let reasons = step["response"]["body"]["reasons"].as_array().unwrap();
    assert!(reasons.contains(&json!("challenge_not_performed")), "{reasons:?}");
    assert_eq!(step["response"]["body"]["attempts_left"], 2);
    assert!(step["feedback"].as_str().unwrap().contains("could not see the movements"), "{step:#}");
    let view = world.session_view(&session.id).await;
    assert_eq!(view["status"], "in_progress");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_refused_then_cancel_goes_to_the_cancel_url() {
    let world = World::start(|_| {}).await;
    let session = world.session("enrollment,liveness", "user-cancel").await;
    let run = session
        .launch_denied(vec![
            consent(None),
            message("Camera access is blocked", Some("07-camera-denied")),
            cancel(CANCEL_URL),
        ])
        .await;
    assert_eq!(run.result(2)["url"], CANCEL_URL);
    let hook = world.webhook_for(&session.id).await;
    assert_eq!(hook["status"], "cancelled");
    assert_eq!(hook["merchant_ref"], "user-cancel");
    assert_eq!(world.session_view(&session.id).await["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_link_shows_the_expired_page() {
    let world = World::start(|s| s.sessions.ttl_secs = 1).await;
    let session = world.session("enrollment,liveness", "user-late").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let run = session.launch(None, &[], vec![message("This link has expired", Some("08-link-expired"))]).await;
    assert!(run.0["final_url"].as_str().unwrap().contains("/c/"), "the link page itself, not the capture page");
    assert!(run.result(0)["body"].as_str().unwrap().contains("This link has expired"));
}
