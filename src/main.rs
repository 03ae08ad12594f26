//! The binary: parse the command line, run it, and turn a failure's category into the exit code.
//! Everything else lives in the library.

use std::process::ExitCode;

use oidc_ecs_deploy::{app, cli, envvars::EnvVars};

fn main() -> ExitCode {
    let invocation = cli::parse(std::env::args_os());
    let env = EnvVars::from_process();
    app::init_logging(&env);
    oidc_ecs_deploy::retry::configure_from(&env);
    // One thread: a deploy waits on the network almost all the time, and hashing a blob as it
    // streams keeps up with the socket; worker threads would add startup time and memory and
    // take a core from the registry or the runner's other processes. Blocking file work still
    // goes to tokio's blocking pool.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(app::run(invocation, &env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => ExitCode::from(failure.category.exit_code() as u8),
    }
}
