//! Runs the same benchmark as `xiaoan bench kb`: `cargo run --release -p xiaoan-kb --example bench_kb`.

fn main() -> std::process::ExitCode {
    let mut out = std::io::stdout();
    match xiaoan_kb::bench::run(&mut out) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench kb: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
