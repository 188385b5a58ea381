//! One full verification as an integrator and a phone perform it: create the session (API
//! key), open the capture link (token → cookie), upload the selfie, get the liveness
//! challenge, answer it with the pre-rendered burst for the drawn actions, read the result.

use std::sync::Arc;
use std::time::Instant;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use thirdfactor_engine::liveness::Action;

use crate::prepare::{Merchant, Person};

pub struct Target {
    pub client: reqwest::Client,
    pub address: String,
    pub merchant: Merchant,
    pub webhook_base: String,
    pub persons: Vec<Person>,
}

/// How one verification ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Approved,
    /// The server decided against the person: the load test's answers are wrong.
    Rejected {
        step: &'static str,
        reasons: String,
    },
    /// 503: the server shed the request (admission control), with or without Retry-After.
    Shed {
        step: &'static str,
        retry_after: bool,
    },
    /// Any other unexpected status, or no answer at all (status 0).
    Error {
        step: &'static str,
        status: u16,
    },
}

/// One verification's timings (ms) and outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Record {
    pub phase: usize,
    /// Seconds from the start of the run to the verification's start.
    pub start_s: f64,
    pub total_ms: f64,
    pub selfie_ms: Option<f64>,
    pub liveness_ms: Option<f64>,
    pub outcome: Outcome,
}

#[derive(Default)]
struct Timings {
    selfie_ms: Option<f64>,
    liveness_ms: Option<f64>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Runs one verification for `person`; never panics, every failure is an outcome.
pub async fn run(target: Arc<Target>, person: usize, phase: usize, origin: Instant) -> Record {
    let started = Instant::now();
    let mut timings = Timings::default();
    let outcome = match steps(&target, &target.persons[person], &mut timings).await {
        Ok(()) => Outcome::Approved,
        Err(outcome) => outcome,
    };
    Record {
        phase,
        start_s: started.duration_since(origin).as_secs_f64(),
        total_ms: ms(started),
        selfie_ms: timings.selfie_ms,
        liveness_ms: timings.liveness_ms,
        outcome,
    }
}

async fn steps(t: &Target, person: &Person, timings: &mut Timings) -> Result<(), Outcome> {
    let (session_id, link) = create(t, person).await?;
    let cookie = open_link(t, &link).await?;

    let selfie_started = Instant::now();
    let part = reqwest::multipart::Part::bytes(person.identity.selfie_jpeg.clone())
        .file_name("selfie.jpg")
        .mime_str("image/jpeg")
        .map_err(|_| Outcome::Error { step: "selfie", status: 0 })?;
    let form = reqwest::multipart::Form::new().part("image", part);
    let request = t.client.post(format!("{}/api/capture/selfie", t.address)).header("cookie", &cookie).multipart(form);
    let reply = decided(request.send().await, "selfie").await?;
    timings.selfie_ms = Some(ms(selfie_started));
    if reply["next_step"] != "liveness" {
        return Err(Outcome::Error { step: "selfie", status: 200 });
    }

    let challenge = t.client.post(format!("{}/api/capture/liveness/challenge", t.address)).header("cookie", &cookie);
    let challenge: Value =
        json_of(expect(challenge.send().await, "challenge", StatusCode::OK).await?, "challenge").await?;
    let actions: Vec<Action> = serde_json::from_value(challenge["actions"].clone())
        .map_err(|_| Outcome::Error { step: "challenge", status: 200 })?;
    let burst = person.identity.bursts.get(&actions).ok_or(Outcome::Error { step: "challenge", status: 200 })?;

    let liveness_started = Instant::now();
    // Captured "now": the frames' timestamps fall inside the challenge window just issued.
    let now = thirdfactor::store::now_ms();
    let timestamps: Vec<i64> = burst.offsets_ms.iter().map(|o| now + o).collect();
    let mut form = reqwest::multipart::Form::new()
        .text("meta", json!({ "nonce": challenge["nonce"], "timestamps": timestamps }).to_string());
    for frame in &burst.frames {
        let part = reqwest::multipart::Part::bytes(frame.clone())
            .file_name("f.jpg")
            .mime_str("image/jpeg")
            .map_err(|_| Outcome::Error { step: "liveness", status: 0 })?;
        form = form.part("frame", part);
    }
    let request =
        t.client.post(format!("{}/api/capture/liveness", t.address)).header("cookie", &cookie).multipart(form);
    let reply = decided(request.send().await, "liveness").await?;
    timings.liveness_ms = Some(ms(liveness_started));
    if reply["session_ended"] != true {
        return Err(Outcome::Error { step: "liveness", status: 200 });
    }

    let view = t
        .client
        .get(format!("{}/api/v1/sessions/{session_id}", t.address))
        .bearer_auth(&t.merchant.api_key)
        .send()
        .await;
    let view = json_of(expect(view, "result", StatusCode::OK).await?, "result").await?;
    match view["status"].as_str() {
        Some("approved") => Ok(()),
        _ => Err(Outcome::Rejected { step: "result", reasons: view["reasons"].to_string() }),
    }
}

async fn create(t: &Target, person: &Person) -> Result<(String, String), Outcome> {
    let body = json!({
        "merchant_id": t.merchant.id,
        "config": "liveness",
        "language": "en",
        "backend_url": format!("{}/{{{{sessionId}}}}", t.webhook_base),
        "return_url": "https://client.example/done",
        "cancel_url": "https://client.example/cancel",
        "merchant_ref": person.merchant_ref,
    });
    let response = t
        .client
        .post(format!("{}/api/v1/sessions", t.address))
        .bearer_auth(&t.merchant.api_key)
        .json(&body)
        .send()
        .await;
    let created = json_of(expect(response, "create", StatusCode::CREATED).await?, "create").await?;
    let id = created["session_id"].as_str().ok_or(Outcome::Error { step: "create", status: 201 })?;
    let url = created["info"]["url"].as_str().ok_or(Outcome::Error { step: "create", status: 201 })?;
    let token = url.rsplit('/').next().unwrap_or_default();
    Ok((id.to_string(), format!("{}/c/{token}", t.address)))
}

/// The link answers 303 with the capture cookie; returns the `name=value` pair.
async fn open_link(t: &Target, link: &str) -> Result<String, Outcome> {
    let response = expect(t.client.get(link).send().await, "link", StatusCode::SEE_OTHER).await?;
    let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok());
    let pair = cookie.and_then(|c| c.split(';').next()).ok_or(Outcome::Error { step: "link", status: 303 })?;
    Ok(pair.to_string())
}

/// A response with status `want`, or the outcome its status means.
async fn expect(
    response: reqwest::Result<Response>,
    step: &'static str,
    want: StatusCode,
) -> Result<Response, Outcome> {
    let response = response.map_err(|_| Outcome::Error { step, status: 0 })?;
    let status = response.status();
    if status == want {
        return Ok(response);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return Err(Outcome::Shed { step, retry_after: response.headers().contains_key("retry-after") });
    }
    Err(Outcome::Error { step, status: status.as_u16() })
}

async fn json_of(response: Response, step: &'static str) -> Result<Value, Outcome> {
    let status = response.status().as_u16();
    response.json().await.map_err(|_| Outcome::Error { step, status })
}

/// A capture step's decision: 200 accepted, or 422 with the reasons (a rejection).
async fn decided(response: reqwest::Result<Response>, step: &'static str) -> Result<Value, Outcome> {
    let response = response.map_err(|_| Outcome::Error { step, status: 0 })?;
    if response.status() == StatusCode::UNPROCESSABLE_ENTITY {
        let reply = json_of(response, step).await?;
        return Err(Outcome::Rejected { step, reasons: reply["reasons"].to_string() });
    }
    let reply = json_of(expect(Ok(response), step, StatusCode::OK).await?, step).await?;
    if reply["accepted"] != true {
        return Err(Outcome::Rejected { step, reasons: reply["reasons"].to_string() });
    }
    Ok(reply)
}
