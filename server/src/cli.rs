//! Command line: `serve`, `migrate`, `merchant create|list`, `eval …`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::audit::{AuditEvent, ChainStatus};
use crate::config::Settings;
use crate::domain::{ApiKey, WebhookSecret};
use crate::startup::Application;
use crate::store::merchants::NewMerchant;
use crate::store::{Store, now_ms};

#[derive(Debug, Parser)]
#[command(name = "thirdfactor", version, about = "Self-hosted biometric verification server")]
pub struct Cli {
    /// Configuration file (TOML); default ./thirdfactor.toml if it exists.
    #[arg(long, global = true, env = "THIRDFACTOR_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP(S) server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage merchants (integrators).
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// The audit log of API actions.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Measure the engines' accuracy on a labelled folder (JSON + Markdown + PNG report).
    #[command(subcommand)]
    Eval(EvalCommand),
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Face verification: every pair of labelled images, EER, FNMR at fixed FMR, ROC/DET.
    Faces {
        /// CSV with `file,identity` rows (paths relative to --images).
        #[arg(long)]
        labels: PathBuf,
        #[arg(long)]
        images: PathBuf,
        /// Report folder (created).
        #[arg(long)]
        out: PathBuf,
        /// Leave this labelled file out (repeatable).
        #[arg(long)]
        exclude: Vec<String>,
        /// Embedding the detailed sections score: one model or a fusion, `+`-separated
        /// `model[:flip][*weight]` with model fr_feature, sface or dlib_resnet
        /// (default: the engine's default). Every model and fusion is also compared in a table.
        #[arg(long)]
        embedding: Option<String>,
    },
    /// Document engine: corners, MRZ, fields, time per image.
    Documents {
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Python of a venv with rapidocr-onnxruntime: also time RapidOCR on the same images.
        #[arg(long)]
        rapidocr_python: Option<PathBuf>,
    },
    /// Liveness: 12-frame windows of labelled clips and stills, APCER per attack kind, BPCER.
    Liveness {
        /// Folder with labels.csv, frames/ and stills/.
        dir: PathBuf,
        /// Report folder (created).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exit status 1 and the first bad entry if it is broken.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Print the newest entries as JSON lines.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        count: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum MerchantCommand {
    /// Create a merchant; prints its API key and webhook secret once.
    Create {
        #[arg(long)]
        name: String,
        /// Every session's backend_url must lie under this URL.
        #[arg(long)]
        webhook_base: String,
        /// Merchant id (default: the next free number).
        #[arg(long)]
        id: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List merchants (never their keys).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Branding profiles of a merchant, chosen by a session's `branding`.
    #[command(subcommand)]
    Branding(BrandingCommand),
}

#[derive(Debug, Subcommand)]
pub enum BrandingCommand {
    /// Create or replace a profile. Colours must meet WCAG AA on the white page.
    Set {
        #[arg(long)]
        merchant: String,
        /// The value sessions send as `branding`.
        #[arg(long)]
        name: String,
        /// Shown in the page header.
        #[arg(long)]
        display_name: String,
        /// `#rrggbb`: buttons and the brand name; needs 4.5:1 against white.
        #[arg(long)]
        primary: String,
        /// `#rrggbb`: progress and outlines; needs 3:1 against white.
        #[arg(long)]
        accent: Option<String>,
        /// PNG, JPEG or WebP, at most 256 KiB and 1024 px a side.
        #[arg(long)]
        logo: Option<PathBuf>,
    },
    /// List a merchant's profiles.
    List {
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a profile; new sessions naming it are refused.
    Delete {
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        name: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    crate::telemetry::init_logging(&settings.log);
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(&settings).await,
        Command::Merchant(MerchantCommand::Create { name, webhook_base, id, json }) => {
            create_merchant(&settings, &name, &webhook_base, id, json).await
        }
        Command::Merchant(MerchantCommand::List { json }) => list_merchants(&settings, json).await,
        Command::Merchant(MerchantCommand::Branding(command)) => crate::cli_branding::run(&settings, command).await,
        Command::Audit(AuditCommand::Verify { json }) => verify_audit(&settings, json).await,
        Command::Audit(AuditCommand::Tail { count }) => tail_audit(&settings, count).await,
        Command::Eval(EvalCommand::Faces { labels, images, out, exclude, embedding }) => {
            use thirdfactor_engine::face::EmbeddingConfig;
            let embedding = match embedding {
                Some(spec) => EmbeddingConfig::parse(&spec).map_err(|e| anyhow::anyhow!("--embedding: {e}"))?,
                None => EmbeddingConfig::default(),
            };
            let args = crate::eval::faces::FacesArgs { labels, images, out, exclude, embedding };
            eval_faces(&settings, args)
        }
        Command::Eval(EvalCommand::Documents { dir, out, rapidocr_python }) => {
            let models = std::sync::Arc::new(thirdfactor_engine::models::ModelSet::load(&settings.model_config())?);
            let job = move || crate::eval::documents::run(models, &dir, &out, rapidocr_python.as_deref());
            tokio::task::spawn_blocking(job).await?
        }
        Command::Eval(EvalCommand::Liveness { dir, out }) => eval_liveness(&settings, &dir, &out),
    }
}

fn eval_faces(settings: &Settings, args: crate::eval::faces::FacesArgs) -> anyhow::Result<()> {
    use thirdfactor_engine::face::{EmbeddingConfig, FaceConfig, FaceEngine};
    let models = std::sync::Arc::new(thirdfactor_engine::models::ModelSet::load(&settings.model_config())?);
    // Every model with and without flip (the report compares them all from one run), with the
    // configured gates and thresholds ([face]), so the report measures what `serve` runs.
    let config = FaceConfig { embedding: EmbeddingConfig::everything(), ..settings.face_config() };
    let engine = FaceEngine::new(models, config);
    let report = crate::eval::faces::run(&engine, &args)?;
    let (all, gated) = (&report.all_faces, &report.quality_gated);
    for (name, m) in [("all faces", all), ("quality-gated", gated)] {
        let at = |i: usize| m.operating_points.get(i).map_or(f64::NAN, |p| p.fnmr * 100.0);
        println!(
            "{name:>13}: {} images, {} genuine / {} impostor pairs, EER {:.2} %, FNMR {:.1} % @ FMR 1 %, {:.1} % @ 0.1 %",
            m.images,
            m.genuine_pairs,
            m.impostor_pairs,
            m.eer * 100.0,
            at(0),
            at(1)
        );
    }
    for row in &report.fusion_comparison {
        let (a, g) = (&row.all_faces, &row.quality_gated);
        println!(
            "{:>48}: all EER {:.2} % FNMR@0.1 % {:.1} % | gated EER {:.2} % FNMR@0.1 % {:.1} %",
            row.embedding,
            a.eer * 100.0,
            a.fnmr_at_fmr_01 * 100.0,
            g.eer * 100.0,
            g.fnmr_at_fmr_01 * 100.0
        );
    }
    println!("report: {}", args.out.join("report.md").display());
    Ok(())
}

fn eval_liveness(settings: &Settings, dir: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    use thirdfactor_engine::liveness::{LivenessConfig, LivenessEngine};
    let models = std::sync::Arc::new(thirdfactor_engine::models::ModelSet::load(&settings.model_config())?);
    let face = settings.face_config();
    let engine = LivenessEngine::new(models.clone(), face.clone(), settings.liveness_config());
    let analysis =
        LivenessEngine::new(models, face, LivenessConfig { compare_pose_model: true, ..settings.liveness_config() });
    let report = crate::eval::liveness::run(&engine, &analysis, dir, out)?;
    println!("BPCER on bona fide turn windows: {:.1} %", report.bpcer * 100.0);
    for (kind, apcer) in &report.apcer {
        println!("APCER {kind}: {:.1} %", apcer * 100.0);
    }
    println!("report: {}", out.join("report.md").display());
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    rustls::crypto::ring::default_provider().install_default().ok();
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    Ok(())
}

pub(crate) async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store =
        Store::connect(&settings.database_url(), 2, Duration::from_secs(settings.database.connect_timeout_secs))
            .await?;
    store.migrate().await?;
    Ok(store)
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let version = store.schema_version().await?.unwrap_or(0);
    println!("database schema at version {version}");
    Ok(())
}

async fn create_merchant(
    settings: &Settings,
    name: &str,
    webhook_base: &str,
    id: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty() && name.len() <= 200, "--name must be 1 to 200 characters");
    let base = url::Url::parse(webhook_base).map_err(|e| anyhow::anyhow!("--webhook-base is not a URL: {e}"))?;
    anyhow::ensure!(matches!(base.scheme(), "https" | "http"), "--webhook-base must be an http(s) URL");
    anyhow::ensure!(base.host_str().is_some(), "--webhook-base has no host");
    let store = open_store(settings).await?;
    let id = match id {
        Some(id) => id,
        None => store.next_merchant_id().await?,
    };
    anyhow::ensure!(store.merchant(&id).await?.is_none(), "merchant {id} already exists");
    let key = ApiKey::generate();
    let secret = WebhookSecret::generate();
    store
        .insert_merchant(&NewMerchant {
            id: &id,
            name,
            api_key_hash: &key.hash(),
            api_key_hint: &key.hint(),
            webhook_base: base.as_str(),
            webhook_secret: secret.expose(),
            created_at: now_ms(),
        })
        .await?;
    let event = AuditEvent {
        at: now_ms(),
        actor: "cli".into(),
        action: "merchant create".into(),
        target: format!("merchant:{id}"),
        detail: serde_json::json!({ "webhook_base": base.as_str() }).to_string(),
    };
    store.append_audit(&event).await?;
    if json {
        let out = serde_json::json!({
            "merchant_id": id, "name": name, "webhook_base": base.as_str(),
            "api_key": key.expose(), "webhook_secret": secret.expose(),
        });
        println!("{out}");
    } else {
        println!("merchant_id:    {id}");
        println!("name:           {name}");
        println!("webhook_base:   {base}");
        println!("api_key:        {}", key.expose());
        println!("webhook_secret: {}", secret.expose());
        println!("Store the API key and webhook secret now: they are not shown again.");
    }
    Ok(())
}

async fn verify_audit(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let status = crate::audit::verify_chain(&store).await?;
    if json {
        println!("{}", serde_json::to_string(&status)?);
    }
    match status {
        ChainStatus::Intact { entries, head_seq, head_hash } => {
            if !json {
                println!("audit log intact: {entries} entries; head #{head_seq} {head_hash}");
            }
            Ok(())
        }
        ChainStatus::Broken { seq, reason } => anyhow::bail!("audit log broken at entry #{seq}: {reason}"),
    }
}

async fn tail_audit(settings: &Settings, count: i64) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let head = store.audit_head_seq().await?;
    for entry in store.audit_entries_after((head - count.max(0)).max(0), count.max(0)).await? {
        println!("{}", serde_json::to_string(&entry)?);
    }
    Ok(())
}

async fn list_merchants(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let merchants = store.merchants().await?;
    if json {
        let rows: Vec<_> = merchants
            .iter()
            .map(|m| {
                serde_json::json!({
                    "merchant_id": m.id, "name": m.name, "api_key_hint": m.api_key_hint,
                    "webhook_base": m.webhook_base, "created_at": crate::sessions::rfc3339(m.created_at),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!("{:<6} {:<24} {:<14} {:<40} created", "id", "name", "key", "webhook base");
    for m in merchants {
        println!(
            "{:<6} {:<24} {:<14} {:<40} {}",
            m.id,
            m.name,
            m.api_key_hint,
            m.webhook_base,
            crate::sessions::rfc3339(m.created_at)
        );
    }
    Ok(())
}
