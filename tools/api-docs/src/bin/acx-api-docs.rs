//! Writes the API reference (`docs/api.md`) from the compiled contracts.
//!
//! `acx-api-docs` prints it; `acx-api-docs --write` replaces `docs/api.md` in the checkout.
//! `cargo test -p acx-api-docs` fails while the committed file differs from what this prints.

use std::{io::Write as _, path::PathBuf, process::ExitCode};

use clap::Parser;

/// Renders the ACX API reference (docs/api.md) from the contracts compiled into acx-proto.
#[derive(Debug, Parser)]
#[command(name = "acx-api-docs", version)]
struct Args {
    /// Replace docs/api.md in this checkout instead of printing the document.
    #[arg(long)]
    write: bool,
}

/// What can stop the generator.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot decode the embedded descriptor set: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
}

fn run(args: &Args) -> Result<(), Error> {
    let document = acx_api_docs::render_acx()?;
    if args.write {
        let path = acx_api_docs::default_output_path();
        std::fs::write(&path, document).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        eprintln!("wrote {}", path.display());
    } else {
        std::io::stdout()
            .lock()
            .write_all(document.as_bytes())
            .map_err(Error::Stdout)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("acx-api-docs: {error}");
            ExitCode::FAILURE
        }
    }
}
