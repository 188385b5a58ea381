use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = thirdfactor::cli::Cli::parse();
    match thirdfactor::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("thirdfactor: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
