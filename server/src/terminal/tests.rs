//! The terminal route over a real loopback WebSocket: the protocol's refusals and limits,
//! sessions kept apart, and (with the models installed) a spoken conversation.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use xiaoan_agent::config::{Config, Settings};
use xiaoan_agent::conversation::protocol::pcm16_le;
use xiaoan_agent::conversation::{ErrorCode, Event, Shared};
use xiaoan_agent::dialogue::Agent;
use xiaoan_agent::pipeline::Recognizer;
use xiaoan_agent::speech::Speech;

use super::*;
use crate::registry::Registry;
use crate::{app, HEADER_TIMEOUT};

const STAFF_TOKEN: &str = "hV3k9Qz1Lr8Xw2Pn5Tb7Yc0Md4Fg6Js+";

/// A server with the terminal route on a free loopback port; dropped, it stops.
struct Server {
    _server: crate::test_server::Running,
    addr: String,
    /// tokens of the registered terminals gs-1 and gs-2 (kiosks)
    tokens: [String; 2],
    registry: std::path::PathBuf,
    store: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn start(shared: Arc<Shared>, store: std::path::PathBuf, limits: Limits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("terminals.json");
    let (_, t1) = Registry::add(&registry, "gs-1", "kiosk").unwrap();
    let (_, t2) = Registry::add(&registry, "gs-2", "kiosk").unwrap();
    let live = Arc::new(LiveRegistry::open(&registry).unwrap());
    let terminals = Arc::new(Terminals::new(shared, live, limits));
    let staff_store = xiaoan_records::Store::open(&dir.path().join("staff.db")).unwrap();
    let app = app(
        Box::new(staff_store),
        STAFF_TOKEN.to_string(),
        Some(terminals),
    );
    let server = crate::test_server::spawn(app, HEADER_TIMEOUT);
    Server {
        addr: server.addr.clone(),
        _server: server,
        tokens: [t1, t2],
        registry,
        store,
        _dir: dir,
    }
}

/// What a terminal receives.
#[derive(Debug)]
enum Got {
    Event(Event),
    Closed,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A terminal: the socket and everything it has received.
struct Client {
    ws: Ws,
    events: Vec<Event>,
    closed: Option<Option<u16>>,
    /// the audio frames received matched their announcements
    audio_ok: bool,
    audio_frames: usize,
}

impl Client {
    async fn connect(addr: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{PATH}"))
            .await
            .expect("the upgrade succeeds");
        Client {
            ws,
            events: Vec::new(),
            closed: None,
            audio_ok: true,
            audio_frames: 0,
        }
    }

    async fn send(&mut self, json: &str) {
        self.ws
            .send(WsMessage::Text(json.to_string().into()))
            .await
            .unwrap();
    }

    async fn hello(&mut self, token: &str) {
        self.send(&format!(
            r#"{{"type":"hello","token":"{token}","terminal":"gs-1","profile":"kiosk","dialect":"auto","protocol":1}}"#
        ))
        .await;
    }

    /// The next event or the close; `None` on timeout.
    async fn next(&mut self, within: Duration) -> Option<Got> {
        loop {
            let m = match tokio::time::timeout(within, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => {
                    self.closed.get_or_insert(None);
                    return Some(Got::Closed);
                }
                Ok(Some(Ok(m))) => m,
            };
            match m {
                WsMessage::Text(t) => {
                    let e: Event = serde_json::from_str(t.as_str()).expect("a protocol event");
                    if let Event::Audio { samples, .. } = &e {
                        // exactly one binary frame follows, of the size announced
                        match tokio::time::timeout(LONG, self.ws.next()).await {
                            Ok(Some(Ok(WsMessage::Binary(b)))) => {
                                self.audio_ok &= b.len() == samples * 2;
                                self.audio_frames += 1;
                            }
                            _ => self.audio_ok = false,
                        }
                    }
                    self.events.push(e.clone());
                    return Some(Got::Event(e));
                }
                WsMessage::Close(f) => {
                    let code = f.map(|f| u16::from(f.code));
                    self.closed = Some(code);
                    return Some(Got::Closed);
                }
                _ => continue,
            }
        }
    }

    /// Receive until `pred` holds for an event (playing every turn at once: `played` on
    /// each `listening`); panics after `within`.
    async fn until(&mut self, within: Duration, pred: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Got::Event(e)) => {
                    if e == Event::Listening {
                        self.played().await;
                    }
                    if pred(&e) {
                        return e;
                    }
                }
                other => panic!("waiting, got {other:?}; events so far: {:?}", self.events),
            }
        }
    }

    /// Tell the server every turn so far has been played.
    async fn played(&mut self) {
        let turn = self.events.iter().rev().find_map(|e| match e {
            Event::Reply { turn, .. } | Event::Audio { turn, .. } => Some(*turn),
            _ => None,
        });
        if let Some(turn) = turn {
            self.send(&format!(r#"{{"type":"played","turn":{turn}}}"#))
                .await;
        }
    }

    /// Everything until the close (or `within`): the close code.
    async fn close_code(&mut self, within: Duration) -> Option<u16> {
        let deadline = Instant::now() + within;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.next(left).await.is_none() {
                break;
            }
        }
        self.closed.flatten()
    }

    fn errors(&self) -> Vec<ErrorCode> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Error { code, .. } => Some(*code),
                _ => None,
            })
            .collect()
    }

    /// What 小安 said.
    fn said(&self) -> String {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Reply { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Type `text`; wait for the reply to end.
    async fn say_typed(&mut self, text: &str) {
        let from = self.events.len();
        self.send(&serde_json::json!({"type": "text", "text": text}).to_string())
            .await;
        self.until_listening_after(from).await;
    }

    /// Press each key of `keys` and enter; wait for the reply to end.
    async fn press(&mut self, keys: &str) {
        for k in keys.chars() {
            self.send(&format!(r#"{{"type":"key","key":"{k}"}}"#)).await;
        }
        let from = self.events.len();
        self.send(r#"{"type":"key","key":"enter"}"#).await;
        self.until_listening_after(from).await;
    }

    async fn until_listening_after(&mut self, from: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.events[from..]
            .iter()
            .any(|e| matches!(e, Event::Reply { last: true, .. }))
            || self.events.last() != Some(&Event::Listening)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Got::Event(Event::Listening)) => self.played().await,
                Some(Got::Event(_)) => {}
                other => panic!("waiting for a reply, got {other:?}: {:?}", self.events),
            }
        }
    }

    fn receipt(&self) -> Option<String> {
        self.events.iter().find_map(|e| match e {
            Event::Receipt { number, .. } => Some(number.clone()),
            _ => None,
        })
    }
}

/// An engine that hears the same words in everything (the model-free tests send no
/// speech).
struct Fixed;

impl xiaoan_models::AsrModel for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    fn decode_cancellable(
        &self,
        _samples: &[f32],
        _opts: &xiaoan_models::DecodeOptions,
        _cancel: &std::sync::atomic::AtomicBool,
    ) -> xiaoan_models::Result<xiaoan_models::Transcript> {
        Ok(xiaoan_models::Transcript::from_text("你好"))
    }
}

fn kiosk_settings(home: &std::path::Path, extra: &str) -> Settings {
    let text = format!(
        "home = {:?}\nprofile = \"kiosk\"\n{extra}",
        home.display().to_string()
    );
    Config::parse(&text, "test").unwrap().resolve().unwrap()
}

/// The agent with the built-in guide, forms and intent model, a silent voice and a
/// recogniser that is never reached; its store in `dir`.
fn model_free(dir: &std::path::Path) -> (Arc<Shared>, std::path::PathBuf) {
    let settings = kiosk_settings(dir, "[tts]\nengine = \"silent\"\n");
    let guide = xiaoan_kb::Guide::builtin().unwrap();
    let retriever =
        xiaoan_kb::TantivyRetriever::open_or_build(&guide, &settings.index_dir).unwrap();
    let store = dir.join("records.db");
    let agent = Agent {
        understander: std::sync::Arc::new(xiaoan_intents::Understander::builtin().unwrap()),
        guide,
        retriever: Box::new(retriever),
        forms: xiaoan_agent::forms::Forms::builtin().unwrap(),
        mediation: xiaoan_agent::forms::Mediation::builtin().unwrap(),
        appointments: xiaoan_records::AppointmentConfig::default(),
        store: Mutex::new(xiaoan_records::Store::open(&store).unwrap()),
        settings: settings.dialogue.clone(),
        default_dialect: None,
        today: None,
    };
    let rec = Recognizer::with_model(Arc::new(Fixed), &settings).unwrap();
    let speech = Speech::new(Box::new(xiaoan_models::SilentTts));
    (Arc::new(Shared::new(agent, rec, speech, settings)), store)
}

fn model_free_server(limits: Limits) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (shared, store) = model_free(dir.path());
    (start(shared, store, limits), dir)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const LONG: Duration = Duration::from_secs(60);

#[test]
fn a_connection_without_a_good_hello_gets_its_error_and_is_closed() {
    let (server, _dir) = model_free_server(Limits {
        hello: Duration::from_millis(400),
        ..Limits::default()
    });
    rt().block_on(async {
        // nothing said
        let mut c = Client::connect(&server.addr).await;
        assert_eq!(c.close_code(LONG).await, Some(4408));
        assert_eq!(c.errors(), vec![ErrorCode::Idle]);
        // garbage first
        let mut c = Client::connect(&server.addr).await;
        c.send("{this is not json").await;
        assert_eq!(c.close_code(LONG).await, Some(4400));
        assert_eq!(c.errors(), vec![ErrorCode::BadMessage]);
        // audio before the hello
        let mut c = Client::connect(&server.addr).await;
        c.ws.send(WsMessage::Binary(vec![0u8; 320].into()))
            .await
            .unwrap();
        assert_eq!(c.close_code(LONG).await, Some(4400));
        // a wrong token
        let mut c = Client::connect(&server.addr).await;
        c.hello("0000000000000000000000000000000000000000000000000000000000000000")
            .await;
        assert_eq!(c.close_code(LONG).await, Some(4401));
        assert_eq!(c.errors(), vec![ErrorCode::Unauthorized]);
        assert!(!c.events.iter().any(|e| matches!(e, Event::Ready { .. })));
        // a revoked token
        Registry::revoke(&server.registry, "gs-2").unwrap();
        let mut c = Client::connect(&server.addr).await;
        c.hello(&server.tokens[1]).await;
        assert_eq!(c.close_code(LONG).await, Some(4401));
        // an unknown dialect
        let mut c = Client::connect(&server.addr).await;
        c.send(&format!(
            r#"{{"type":"hello","token":"{}","dialect":"klingon"}}"#,
            server.tokens[0]
        ))
        .await;
        assert_eq!(c.close_code(LONG).await, Some(4400));
    });
}

#[test]
fn bad_messages_in_a_session_are_refused_and_the_session_goes_on_until_a_frame_is_too_large() {
    let (server, _dir) = model_free_server(Limits::default());
    rt().block_on(async {
        let mut c = Client::connect(&server.addr).await;
        c.hello(&server.tokens[0]).await;
        let ready = c.until(LONG, |e| matches!(e, Event::Ready { .. })).await;
        assert!(matches!(
            ready,
            Event::Ready { sample_rate_in: 16000, sample_rate_out: 24000, protocol: 1, ref terminal, .. } if terminal == "gs-1"
        ));
        c.until(LONG, |e| *e == Event::Listening).await;
        for bad in [
            "{oops",
            r#"{"type":"dance"}"#,
            r#"{"type":"played","turn":"two"}"#,
            r#"{"type":"key","key":"Q"}"#,
        ] {
            c.send(bad).await;
            c.until(LONG, |e| {
                matches!(e, Event::Error { code: ErrorCode::BadMessage, .. })
            })
            .await;
        }
        let long = "楼".repeat(600);
        c.send(&serde_json::json!({"type":"text","text": long}).to_string())
            .await;
        c.until(LONG, |e| matches!(e, Event::Error { code: ErrorCode::BadMessage, .. }))
            .await;
        // still served
        c.say_typed("敬老卡怎么办").await;
        assert!(c.said().contains("敬老卡") || c.said().contains("优待"), "{}", c.said());
        assert!(c.audio_ok && c.audio_frames > 0);
        // one frame over the limit ends it
        c.ws.send(WsMessage::Binary(vec![0u8; MAX_AUDIO_FRAME + 2].into()))
            .await
            .unwrap();
        assert_eq!(c.close_code(LONG).await, Some(4413));
        assert!(c.errors().contains(&ErrorCode::FrameTooLarge));
    });
}

#[test]
fn a_terminal_over_its_connection_limit_is_refused() {
    let (server, _dir) = model_free_server(Limits {
        per_terminal: 1,
        ..Limits::default()
    });
    rt().block_on(async {
        let mut first = Client::connect(&server.addr).await;
        first.hello(&server.tokens[0]).await;
        first
            .until(LONG, |e| matches!(e, Event::Ready { .. }))
            .await;
        let mut second = Client::connect(&server.addr).await;
        second.hello(&server.tokens[0]).await;
        assert_eq!(second.close_code(LONG).await, Some(4429));
        assert_eq!(second.errors(), vec![ErrorCode::TooManyConnections]);
        // another terminal is served meanwhile
        let mut other = Client::connect(&server.addr).await;
        other.hello(&server.tokens[1]).await;
        other
            .until(LONG, |e| matches!(e, Event::Ready { .. }))
            .await;
        // the first ends: its terminal may connect again
        first.send(r#"{"type":"end"}"#).await;
        assert_eq!(first.close_code(LONG).await, Some(1000));
        assert!(first.events.contains(&Event::Bye));
        let mut again = Client::connect(&server.addr).await;
        again.hello(&server.tokens[0]).await;
        again
            .until(LONG, |e| matches!(e, Event::Ready { .. }))
            .await;
    });
}

/// A residence registration by a resident, the ID and the phone on the keypad; the
/// events of its session. `start` begins the declaration (typed or spoken).
async fn declare(c: &mut Client) {
    c.say_typed("我叫王小明").await;
    assert!(
        c.events.contains(&Event::Keypad {
            open: true,
            expect: Some("id_number".into()),
            length: Some(18)
        }),
        "the keypad opens for the ID: {:?}",
        c.events
    );
    c.press("320503198506123049").await;
    c.press("13812345678").await;
    for answer in ["3号楼502室", "2026年10月1日", "租的", "没有"] {
        c.say_typed(answer).await;
    }
    for _ in 0..6 {
        if c.receipt().is_some() {
            break;
        }
        c.say_typed("对").await;
    }
}

#[test]
fn two_sessions_at_once_never_hear_each_others_words_replies_or_receipts() {
    let (server, _dir) = model_free_server(Limits::default());
    let (a, b) = rt().block_on(async {
        let mut a = Client::connect(&server.addr).await;
        let mut b = Client::connect(&server.addr).await;
        a.hello(&server.tokens[0]).await;
        b.hello(&server.tokens[1]).await;
        a.until(LONG, |e| *e == Event::Listening).await;
        b.until(LONG, |e| *e == Event::Listening).await;
        let resident_a = async {
            a.say_typed("我要办居住登记").await;
            declare(&mut a).await;
            a
        };
        let resident_b = async {
            for q in ["社保卡丢了怎么补办", "敬老卡怎么办", "我要找工作人员"]
            {
                b.say_typed(q).await;
            }
            b
        };
        tokio::join!(resident_a, resident_b)
    });
    let number = a.receipt().expect("A's declaration was filed");
    let session = |c: &Client| {
        c.events.iter().find_map(|e| match e {
            Event::Ready { session, .. } => Some(session.clone()),
            _ => None,
        })
    };
    assert_ne!(session(&a), session(&b));
    let b_json: String = b.events.iter().map(|e| e.to_json()).collect();
    for private in [number.as_str(), "王小明", "3049", "5678", "居住登记"] {
        assert!(!b_json.contains(private), "B received A's {private}");
    }
    assert!(!b
        .events
        .iter()
        .any(|e| matches!(e, Event::Keypad { .. } | Event::Key { .. })));
    let a_json: String = a.events.iter().map(|e| e.to_json()).collect();
    assert!(
        b.said().contains("敬老卡"),
        "B heard its own answer: {}",
        b.said()
    );
    for theirs in ["社保卡", "敬老卡", "我请工作人员来帮您"] {
        assert!(!a_json.contains(theirs), "A received B's {theirs}");
    }
    assert!(b.events.iter().any(|e| matches!(e, Event::Handover { .. })));
    assert!(
        !a.events.iter().any(|e| matches!(e, Event::Handover { .. })),
        "{:?}",
        a.events
            .iter()
            .filter(|e| !matches!(e, Event::Audio { .. } | Event::Key { .. }))
            .collect::<Vec<_>>()
    );
    // the filed record is A's, in the store
    let store = xiaoan_records::Store::open(&server.store).unwrap();
    assert!(store.show(&number, false).unwrap().is_some());
}

/// The installed models loaded once for the model-backed tests (a kiosk on the real
/// voice and recogniser; its store in a temporary folder kept for the run).
fn real() -> Option<&'static (Arc<Shared>, std::path::PathBuf)> {
    static REAL: OnceLock<Option<(Arc<Shared>, std::path::PathBuf)>> = OnceLock::new();
    let home = xiaoan_models::xiaoan_home();
    xiaoan_models::testing::model_or_skip(
        xiaoan_models::whisper_dir(&home).join("model.safetensors"),
    )?;
    xiaoan_models::testing::model_or_skip(xiaoan_models::voice_dir(&home).join("lexicon.bin"))?;
    REAL.get_or_init(|| {
        let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        let mut settings = kiosk_settings(&home, "");
        settings.store_path = dir.path().join("records.db");
        let shared = Shared::load(&settings).expect("the installed models load");
        Some((Arc::new(shared), settings.store_path.clone()))
    })
    .as_ref()
}

/// `text` spoken by the neural voice, as 16 kHz samples with a pause after it.
fn spoken(shared: &Shared, text: &str) -> Vec<f32> {
    let voice = xiaoan_models::Voice {
        name: "cmn-latn-pinyin".into(),
        rate_wpm: 150,
        pitch: 50,
        volume: 1.0,
    };
    let a = shared.speech.sentence(text, &voice).unwrap();
    let mut s = vec![0.0; 4800];
    s.extend(xiaoan_audio::resample(&a.samples, a.sample_rate, 16_000).unwrap());
    s.extend(vec![0.0; 24_000]);
    s
}

/// Stream `samples` as 100 ms frames, a little faster than real time.
async fn speak(c: &mut Client, samples: &[f32]) {
    for chunk in samples.chunks(1600) {
        c.ws.send(WsMessage::Binary(pcm16_le(chunk).into()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many of `said`'s characters were heard (in order).
fn heard_share(heard: &str, said: &str) -> f64 {
    let h: Vec<char> = heard.chars().collect();
    let mut i = 0;
    let mut n = 0;
    for c in said.chars() {
        if let Some(j) = h[i..].iter().position(|x| *x == c) {
            i += j + 1;
            n += 1;
        }
    }
    n as f64 / said.chars().count() as f64
}

#[test]
fn a_spoken_question_is_heard_and_answered_with_audio_over_the_socket() {
    let Some((shared, store)) = real() else {
        return;
    };
    let server = start(shared.clone(), store.clone(), Limits::default());
    let question = "我想问一下，敬老卡怎么办，要带什么材料？";
    let audio = spoken(shared, question);
    rt().block_on(async {
        let mut c = Client::connect(&server.addr).await;
        c.hello(&server.tokens[0]).await;
        c.until(LONG, |e| *e == Event::Listening).await;
        let from = c.events.len();
        // in real time, as a microphone delivers it
        for chunk in audio.chunks(1600) {
            c.ws.send(WsMessage::Binary(pcm16_le(chunk).into()))
                .await
                .unwrap();
            let due = Instant::now() + Duration::from_millis(100);
            while let Some(left) = due.checked_duration_since(Instant::now()) {
                if c.next(left).await.is_none() {
                    break;
                }
            }
        }
        if !c.events.iter().any(|e| matches!(e, Event::Final { .. })) {
            c.until(LONG, |e| matches!(e, Event::Final { .. })).await;
        }
        let fin = c
            .events
            .iter()
            .rev()
            .find(|e| matches!(e, Event::Final { .. }))
            .cloned()
            .expect("a final transcript");
        let Event::Final { dialect, .. } = fin else {
            unreachable!()
        };
        // what was heard, over every final: a complete question followed by a pause
        // (我想问一下，敬老卡怎么办，…) may end its turn there, and the rest is the next turn
        // (on a quiet machine the final is decoded within the pause)
        let text: String = c.events[from..]
            .iter()
            .filter_map(|e| match e {
                Event::Final { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(heard_share(&text, question) >= 0.5, "heard {text}");
        // partials before the final: while the resident speaks, or (on a loaded machine,
        // where the scheduler paces them by decode time) just after
        let partials: Vec<String> = c.events[from..]
            .iter()
            .take_while(|e| !matches!(e, Event::Final { .. }))
            .filter_map(|e| match e {
                Event::Partial { text } => Some(text.clone()),
                _ => None,
            })
            .collect();
        assert!(!partials.is_empty(), "partials before the final");
        // each partial extends the last
        assert!(
            partials.windows(2).all(|w| w[1].starts_with(w[0].as_str())),
            "{partials:?}"
        );
        assert_eq!(dialect, "cmn");
        c.until_listening_after(from).await;
        let turn = &c.events[from..];
        let pos = |p: &dyn Fn(&Event) -> bool| turn.iter().position(p);
        let start = pos(&|e| *e == Event::SpeechStart).expect("speech_start");
        let partial = pos(&|e| matches!(e, Event::Partial { .. })).unwrap();
        let fin = pos(&|e| matches!(e, Event::Final { .. })).unwrap();
        assert!(start < partial && partial < fin, "{turn:?}");
        let reply = pos(&|e| matches!(e, Event::Reply { .. })).expect("a reply");
        let audio = pos(&|e| matches!(e, Event::Audio { .. })).expect("its audio");
        assert!(start < fin && fin < reply && reply < audio, "{turn:?}");
        assert!(c.audio_ok, "every audio frame as announced");
        println!("partials: {partials:?}; heard: {text}; said: {}", c.said());
        assert!(
            c.said().contains("敬老卡") || c.said().contains("优待"),
            "{}",
            c.said()
        );
    });
}

#[test]
fn a_declaration_started_by_voice_with_the_id_on_the_keypad_ends_in_a_receipt() {
    let Some((shared, store)) = real() else {
        return;
    };
    let server = start(shared.clone(), store.clone(), Limits::default());
    let audio = spoken(shared, "我要办居住登记");
    rt().block_on(async {
        let mut c = Client::connect(&server.addr).await;
        c.hello(&server.tokens[0]).await;
        c.until(LONG, |e| *e == Event::Listening).await;
        let from = c.events.len();
        speak(&mut c, &audio).await;
        c.until(LONG, |e| matches!(e, Event::Final { .. })).await;
        c.until_listening_after(from).await;
        assert!(
            c.events
                .iter()
                .any(|e| matches!(e, Event::Progress { field: 1, .. })),
            "the form began: {:?}",
            &c.events[from..]
        );
        declare(&mut c).await;
        let number = c.receipt().expect("a receipt");
        assert!(c.events.iter().any(|e| matches!(
            e,
            Event::Receipt { kind, .. } if kind == "declaration"
        )));
        let filed = xiaoan_records::Store::open(store)
            .unwrap()
            .show(&number, false)
            .unwrap();
        let filed = filed.unwrap_or_else(|| panic!("{number} is not in the store"));
        // staff see which kiosk it came from
        assert!(
            filed.summary.session_id.starts_with("gs-1/"),
            "{}",
            filed.summary.session_id
        );
    });
}

#[test]
fn speech_over_a_reply_stops_it_and_becomes_the_next_turn() {
    let Some((shared, store)) = real() else {
        return;
    };
    let server = start(shared.clone(), store.clone(), Limits::default());
    let audio = spoken(shared, "我要找工作人员");
    rt().block_on(async {
        let mut c = Client::connect(&server.addr).await;
        c.hello(&server.tokens[0]).await;
        // the greeting is still playing (no `played` sent) when the resident speaks
        c.until(LONG, |e| matches!(e, Event::Audio { .. })).await;
        let turn = c.events.iter().find_map(|e| match e {
            Event::Audio { turn, .. } => Some(*turn),
            _ => None,
        });
        // louder than the reply's echo: the resident right at the microphone
        let loud: Vec<f32> = audio.iter().map(|x| (x * 4.0).clamp(-1.0, 1.0)).collect();
        speak(&mut c, &loud).await;
        c.until(LONG, |e| matches!(e, Event::StopAudio { .. }))
            .await;
        assert!(c.events.contains(&Event::StopAudio {
            turn: turn.unwrap()
        }));
        c.until(LONG, |e| matches!(e, Event::Final { .. })).await;
        c.until(LONG, |e| matches!(e, Event::Reply { .. })).await;
    });
}
