//! The approved paths: a full enrollment (ID card, selfie, head-turn challenge) whose signed
//! webhook carries the card's data, then a verification of the same person.

use std::sync::Arc;

use serde_json::{Value, json};
use thirdfactor::capture::challenge::ChallengeIssuer;
use thirdfactor::config::Settings;
use thirdfactor_engine::face::{FaceConfig, FaceEngine};
use thirdfactor_engine::liveness::Action;
use thirdfactor_engine::models::ModelSet;

use crate::browser::{RETURN_URL, capture, consent, liveness, message, redirect};
use crate::camera;
use crate::world::World;
use crate::{CHALLENGE, DOCUMENT, LIVENESS, SELFIE, valid_card};

/// Test-only challenge seed (`liveness.challenge_seed`): every challenge asks the same actions,
/// so the clip can perform them. Blink is left out of the set: a warped photo cannot blink.
fn seeded(s: &mut Settings) {
    s.liveness.actions = vec![Action::TurnLeft, Action::TurnRight, Action::LookUp];
    s.liveness.challenge_seed = Some(7);
}

fn prompt_text(action: Action) -> &'static str {
    match action {
        Action::TurnLeft => "Turn your head to the left",
        Action::TurnRight => "Turn your head to the right",
        Action::LookUp => "Look up",
        Action::Blink => "Blink",
    }
}

fn accepted(step: &Value) {
    assert_eq!(step["response"]["status"], 200, "{step:#}");
    assert_eq!(step["response"]["body"]["accepted"], true, "{step:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_then_verification_are_approved() {
    let world = World::start(seeded).await;
    let settings = &world.app.settings;
    let actions = ChallengeIssuer::from_settings(settings).issue(0).expect("challenge").actions;
    let face =
        FaceEngine::new(Arc::new(ModelSet::load(&settings.model_config()).expect("models")), FaceConfig::default());
    let selfie_photo = camera::selfie_frame("obama2.jpg");
    let card_fields = valid_card();
    let card = camera::still(&camera::card_photo(&card_fields), &world.file("card.y4m"));
    let selfie = camera::still(&selfie_photo, &world.file("selfie.y4m"));
    let live =
        camera::head_turn_clip(&selfie_photo, &face, &actions, settings.liveness.window_ms, &world.file("live.y4m"));

    // Enrollment: consent, ID card, selfie, movement check, result, back to the integrator.
    let session = world.session("enrollment,liveness,debug", "user-4711").await;
    let run = session
        .launch(
            Some(card),
            &[DOCUMENT],
            vec![consent(Some("01-consent")), capture("document", Some("02-document"), None)],
        )
        .await;
    assert!(run.result(0)["steps"].as_str().unwrap().contains("ID card"), "{:#}", run.result(0));
    accepted(run.result(1));
    let run = session.launch(Some(selfie.clone()), &[SELFIE], vec![capture("selfie", Some("03-selfie"), None)]).await;
    accepted(run.result(0));
    let run = session
        .launch(
            Some(live.clone()),
            &[CHALLENGE, LIVENESS],
            vec![liveness(Some("04-liveness"), None), message("All done", Some("05-result")), redirect(RETURN_URL)],
        )
        .await;
    accepted(run.result(0));
    assert_eq!(run.result(0)["prompts"][0], prompt_text(actions[0]));
    assert_eq!(run.result(2)["url"], RETURN_URL);

    let hook = world.webhook_for(&session.id).await;
    assert_eq!((hook["status"].as_str(), hook["type"].as_str()), (Some("approved"), Some("enrollment")), "{hook:#}");
    assert_eq!(hook["reasons"], json!([]));
    assert!(hook["scores"]["face_match"].as_f64().unwrap() > 0.38, "{hook:#}");
    assert!(hook["scores"]["liveness"].is_number(), "{hook:#}");
    assert_card_data(&hook["data"], &card_fields);
    assert_eq!(world.session_view(&session.id).await["result"], hook, "the API shows the webhook's result");
    let enrolled = world.app.client.get(format!("{}/api/v1/enrollments/user-4711", world.app.address));
    assert_eq!(enrolled.bearer_auth(&world.app.api_key).send().await.unwrap().status(), 200);

    // Verification of the same person: selfie against the stored template, movement check.
    let session = world.session("liveness,debug", "user-4711").await;
    let run = session.launch(Some(selfie), &[SELFIE], vec![consent(None), capture("selfie", None, None)]).await;
    accepted(run.result(1));
    let run = session
        .launch(
            Some(live),
            &[CHALLENGE, LIVENESS],
            vec![liveness(None, None), message("All done", None), redirect(RETURN_URL)],
        )
        .await;
    accepted(run.result(0));
    let hook = world.webhook_for(&session.id).await;
    assert_eq!((hook["status"].as_str(), hook["type"].as_str()), (Some("approved"), Some("verification")), "{hook:#}");
    assert!(hook.get("data").is_none_or(Value::is_null), "verification carries no card data");
}

/// SPEC §2 `data`: the card's fields, normalised, plus everything as read.
fn assert_card_data(data: &Value, card: &crate::cardgen::CardFields) {
    let iso = |(y, m, d): (u32, u32, u32)| format!("{y:04}-{m:02}-{d:02}");
    let mrz = card.mrz();
    assert_eq!(data["surname"], card.surname, "{data:#}");
    assert_eq!(data["name"], card.given_names, "{data:#}");
    assert_eq!(data["date_of_birth"], iso(card.date_of_birth), "{data:#}");
    assert_eq!(data["document_number"], card.document_number, "{data:#}");
    assert_eq!(data["nationality"], card.nationality, "{data:#}");
    assert_eq!(data["sex"], card.sex.to_string(), "{data:#}");
    assert_eq!(data["issuing_country"], card.issuing_state, "{data:#}");
    assert_eq!(data["document_type"], "ID", "{data:#}");
    assert_eq!(data["expiry_date"], iso(card.date_of_expiry), "{data:#}");
    assert_eq!(data["mrz"]["valid"], true, "{data:#}");
    assert_eq!(data["mrz"]["lines"], json!(mrz), "{data:#}");
    let on_card = data["dataOnIDcard"].as_object().expect("dataOnIDcard");
    assert!(!on_card.is_empty(), "{data:#}");
}
