//! `thirdfactor merchant branding set|list|delete`.

use anyhow::Context as _;

use crate::branding::{BrandingInput, BrandingProfile};
use crate::cli::{BrandingCommand, open_store};
use crate::config::Settings;
use crate::store::Store;

pub async fn run(settings: &Settings, command: BrandingCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match command {
        BrandingCommand::Set { merchant, name, display_name, primary, accent, logo } => {
            require_merchant(&store, &merchant).await?;
            let logo = match logo {
                Some(path) => Some(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?),
                None => None,
            };
            let input = BrandingInput {
                name: &name,
                display_name: &display_name,
                primary: &primary,
                accent: accent.as_deref(),
                logo,
            };
            let profile = BrandingProfile::parse(input)?;
            store.upsert_branding(&merchant, &profile).await?;
            let view = profile.page_view();
            println!(
                "branding {} of merchant {merchant}: primary {} (text {}), accent {}, logo {}",
                view.name,
                view.primary_color,
                view.primary_text_color,
                view.accent_color.as_deref().unwrap_or("-"),
                profile.logo.as_ref().map_or("-", |l| l.content_type),
            );
        }
        BrandingCommand::List { merchant, json } => {
            require_merchant(&store, &merchant).await?;
            let profiles = store.brandings(&merchant).await?;
            if json {
                let rows: Vec<_> = profiles.iter().map(|p| p.page_view()).collect();
                println!("{}", serde_json::to_string(&rows)?);
            } else {
                println!("{:<20} {:<30} {:<8} {:<8} logo", "name", "display name", "primary", "accent");
                for p in profiles {
                    let accent = p.accent.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
                    let logo = p.logo.as_ref().map_or("-", |l| l.content_type);
                    println!("{:<20} {:<30} {:<8} {:<8} {logo}", p.name.as_str(), p.display_name, p.primary, accent);
                }
            }
        }
        BrandingCommand::Delete { merchant, name } => {
            anyhow::ensure!(
                store.delete_branding(&merchant, &name).await?,
                "merchant {merchant} has no branding {name:?}"
            );
            println!("deleted branding {name} of merchant {merchant}");
        }
    }
    Ok(())
}

async fn require_merchant(store: &Store, id: &str) -> anyhow::Result<()> {
    anyhow::ensure!(store.merchant(id).await?.is_some(), "no merchant {id}");
    Ok(())
}
