//! Writes the API reference (`docs/api.md`) from the compiled contracts.
//!
//! `acx-api-docs` prints it; `acx-api-docs --write` replaces `docs/api.md` in the checkout.
//! `cargo test -p acx-proto` fails while the committed file differs from what this prints.

use std::{io::Write as _, path::PathBuf, process::ExitCode};

use acx_proto::api_docs;

/// What can stop the generator.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("unknown argument {0:?}; usage: acx-api-docs [--write]")]
    Usage(String),
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

fn run() -> Result<(), Error> {
    let mut write = false;
    for argument in std::env::args().skip(1) {
        match argument.as_str() {
            "--write" => write = true,
            _ => return Err(Error::Usage(argument)),
        }
    }
    let document = api_docs::render_acx()?;
    if write {
        let path = api_docs::default_output_path();
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
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("acx-api-docs: {error}");
            ExitCode::FAILURE
        }
    }
}
