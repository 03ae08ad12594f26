//! `oidc-ecs-deploy push`: the image core without AWS. Open a source (OCI layout, `docker save`
//! archive, or `docker-daemon:` exported from the Docker Engine), log in to any registry
//! (anonymous, or `--username` with the password on stdin), and push under the tags; or, with
//! `--dry-run`, print the plan (HEAD requests only). Progress goes to stderr through the core's
//! log lines (per blob: skipped, mounted, uploaded N MiB in T s); the result goes to stdout as
//! `image-digest=...` and `image-ref=...` lines.

use std::io::Read;

use crate::cli::PushArgs;
use crate::envvars::EnvVars;
use crate::failure::{Category, Failure};
use crate::image::registry_error::RegistryError;
use crate::image::{
    Credentials, LocalImage, PushError, PushOptions, RegistryClient, SourceRef, UploadMode, plan,
    push,
};

use super::{Console, push_image};

/// Each chunk of a chunked upload is held in memory, once per upload in flight.
const CHUNK_SIZE: usize = 8 * 1024 * 1024;

pub async fn run(args: &PushArgs, env: &EnvVars, console: &mut Console) -> Result<(), Failure> {
    let credentials = credentials(args)?;
    // In a workflow's `run:` step the password may come from a command, not a secret the
    // runner already masks: mask it before anything else is printed.
    if let Some(c) = &credentials {
        console
            .workflow
            .add_mask(&c.password)
            .map_err(|e| super::failures::console(&e))?;
    }
    // An Engine export lives in a temporary file as long as `export` does.
    let (opened, export) = match args.source.strip_prefix("docker-daemon:") {
        Some(name) if !name.is_empty() => (
            None,
            Some(push_image::export_from_daemon(name, env.get("DOCKER_HOST")).await?),
        ),
        _ => (Some(open_source(&args.source).await?), None),
    };
    let image = opened
        .as_ref()
        .or(export.as_ref().map(|e| &e.image))
        .expect("one source was opened");
    let mode = match args.upload_mode.as_str() {
        "chunked" => UploadMode::Chunked {
            chunk_size: CHUNK_SIZE,
        },
        _ => UploadMode::Monolithic,
    };
    let client = RegistryClient::new(&args.registry, credentials)
        .map_err(|e| Failure::unexpected(&e).recategorised(Category::BadInput).hint("--registry takes https://host[:port], host[:port], or http://127.0.0.1:PORT for a local registry"))?
        .with_upload_mode(mode);
    let options = PushOptions {
        concurrency: args.concurrency.max(1),
        ..PushOptions::default()
    };

    if args.dry_run {
        let plan = plan(image, &client, &args.repository, &args.tags, &options)
            .await
            .map_err(|e| failure(&e, args))?;
        println!("{plan}");
        tracing::info!("dry run: nothing was uploaded or tagged");
        return Ok(());
    }

    // The core logs each blob (skipped, mounted, uploaded N MiB in T s) and the totals.
    let report = push(image, &client, &args.repository, &args.tags, &options)
        .await
        .map_err(|e| failure(&e, args))?;
    console.output("image-digest", &report.manifest_digest.to_string())?;
    console.output("image-ref", &report.pinned_reference())?;
    Ok(())
}

/// The password is read from stdin (never a flag: flags show in `ps` and shell history), with
/// its trailing newline dropped, as `docker login --password-stdin` does.
fn credentials(args: &PushArgs) -> Result<Option<Credentials>, Failure> {
    let Some(user) = &args.username else {
        return Ok(None);
    };
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| {
            Failure::new(
                Category::BadInput,
                format!("--password-stdin: cannot read the password from stdin: {e}"),
            )
        })?;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(Failure::new(Category::BadInput, "--password-stdin: stdin held no password").hint("pipe it in: `printf %s \"$TOKEN\" | oidc-ecs-deploy push --username U --password-stdin ...`"));
    }
    Ok(Some(Credentials::new(user.clone(), password)))
}

async fn open_source(text: &str) -> Result<LocalImage, Failure> {
    let source = SourceRef::parse(text)
        .map_err(|e| Failure::unexpected(&e).recategorised(Category::BadInput))?;
    let image = source
        .open()
        .await
        .map_err(|e| Failure::unexpected(&e).recategorised(Category::BadInput))?;
    tracing::info!("image {source}: {}", image.summary());
    Ok(image)
}

/// The deploy's mapping, plus what only a hand-typed login can get wrong.
fn failure(error: &PushError, args: &PushArgs) -> Failure {
    if let PushError::Registry(RegistryError::Unauthorized { .. }) = error {
        let hint = match &args.username {
            Some(user) => format!("the registry did not accept user `{user}` with the password read from stdin: check both"),
            None => "the registry wants a login: pass --username and pipe the password into --password-stdin".to_owned(),
        };
        return Failure::unexpected(error)
            .recategorised(Category::Refused)
            .hint(hint);
    }
    push_image::push_failure(error)
}
