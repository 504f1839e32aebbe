//! The terminal protocol's messages as Rust types (`docs/terminal-protocol.md`, version
//! 1): what a terminal sends ([`ClientMessage`]) and what the conversation emits
//! ([`Event`]). Both serialise to the JSON of the protocol; reply audio travels beside
//! its [`Event::Audio`] (the samples are not part of the JSON).

use serde::{Deserialize, Serialize};

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Sample rate of the audio a terminal sends: 16 kHz mono PCM16 LE.
pub const SAMPLE_RATE_IN: u32 = 16_000;
/// Sample rate of every audio frame the server sends.
pub const SAMPLE_RATE_OUT: u32 = 24_000;
/// Largest binary (audio) frame a terminal may send, bytes (512 ms).
pub const MAX_AUDIO_FRAME: usize = 16 * 1024;
/// Largest JSON text frame a terminal may send, bytes.
pub const MAX_TEXT_FRAME: usize = 8 * 1024;
/// Keys kept before `enter`.
pub const MAX_KEYS: usize = 32;

/// A JSON message from a terminal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message: who the terminal is.
    Hello {
        /// The device token.
        token: String,
        /// The terminal's id (informational; the token decides).
        #[serde(default)]
        terminal: Option<String>,
        /// `kiosk`, `window` or `robot` (the registered profile wins).
        #[serde(default)]
        profile: Option<String>,
        /// `auto` or a dialect code of the contract.
        #[serde(default)]
        dialect: Option<String>,
        /// Protocol version, 1.
        #[serde(default)]
        protocol: Option<u32>,
    },
    /// Push-to-talk pressed (`true`) or released (`false`).
    Talk {
        /// Pressed.
        on: bool,
    },
    /// A keypad key: `0`..`9`, `X`, `back`, `clear`, `enter`.
    Key {
        /// The key.
        key: String,
    },
    /// A typed turn.
    Text {
        /// What was typed.
        text: String,
    },
    /// Stop the reply now.
    Stop,
    /// The terminal finished playing turn `turn`.
    Played {
        /// The turn.
        turn: u32,
    },
    /// The resident asks for more time.
    MoreTime,
    /// The resident is done.
    End,
}

impl ClientMessage {
    /// Parse one JSON text frame.
    pub fn parse(text: &str) -> Result<ClientMessage, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// Why the server refuses or ends a session (`error {code, message}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Missing, wrong or revoked token.
    Unauthorized,
    /// A frame over the size limit.
    FrameTooLarge,
    /// The session lasted longer than its limit.
    SessionTooLong,
    /// No hello in time, or silence after the offer of more time.
    Idle,
    /// The terminal already has its limit of open sessions.
    TooManyConnections,
    /// A message that is not valid here.
    BadMessage,
    /// The server serves as many sessions as it can.
    Busy,
    /// The server failed.
    Internal,
}

impl ErrorCode {
    /// The WebSocket close code that follows this error when it ends the session
    /// (`None`: the session goes on).
    pub fn close_code(self, before_hello: bool) -> Option<u16> {
        match self {
            ErrorCode::Unauthorized => Some(4401),
            ErrorCode::BadMessage if before_hello => Some(4400),
            ErrorCode::BadMessage => None,
            ErrorCode::FrameTooLarge => Some(4413),
            ErrorCode::SessionTooLong => Some(4410),
            ErrorCode::Idle => Some(4408),
            ErrorCode::TooManyConnections => Some(4429),
            ErrorCode::Busy => Some(4503),
            ErrorCode::Internal => Some(1011),
        }
    }

    /// What the resident is told, short and spoken-style.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "这台设备还没有登记，请找工作人员。",
            ErrorCode::FrameTooLarge => "声音数据太大了，请重新连接。",
            ErrorCode::SessionTooLong => "这次服务时间到了，需要的话请重新开始。",
            ErrorCode::Idle => "好久没听到您说话，这次先到这里。",
            ErrorCode::TooManyConnections => "这台设备已经在服务了，请稍后再试。",
            ErrorCode::BadMessage => "刚才的操作没看懂，请再试一次。",
            ErrorCode::Busy => "现在人太多了，请稍等一会儿再试。",
            ErrorCode::Internal => "系统出了点问题，请找工作人员。",
        }
    }

    /// The error event for this code.
    pub fn event(self) -> Event {
        Event::Error {
            code: self,
            message: self.message().to_string(),
        }
    }
}

/// What the server tells a terminal. Serialised, each is one JSON text frame; an
/// [`Event::Audio`] is followed by one binary frame holding [`Event::Audio::pcm`] as
/// PCM16 LE.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The session is open.
    Ready {
        /// The dialogue session's id.
        session: String,
        /// The terminal's registered id.
        terminal: String,
        /// Protocol version.
        protocol: u32,
        /// Rate of the audio the terminal sends.
        sample_rate_in: u32,
        /// Rate of the audio the server sends.
        sample_rate_out: u32,
    },
    /// Waiting for the resident.
    Listening,
    /// The resident started speaking.
    SpeechStart,
    /// What has been recognised of the utterance so far.
    Partial {
        /// Committed text so far.
        text: String,
    },
    /// The utterance's final transcript.
    Final {
        /// The transcript.
        text: String,
        /// The session's dialect code.
        dialect: String,
    },
    /// One sentence of a reply, just before its audio.
    Reply {
        /// The turn.
        turn: u32,
        /// The sentence, from 1.
        sentence: u32,
        /// Its text.
        text: String,
        /// The reply's last sentence.
        last: bool,
    },
    /// An earcon opens the turn; its audio follows with sentence 0.
    Earcon {
        /// The turn.
        turn: u32,
        /// `listening`, `working`, `done` or `error`.
        name: String,
    },
    /// Announces the next binary frame.
    Audio {
        /// The turn.
        turn: u32,
        /// The sentence (0: the earcon).
        sentence: u32,
        /// Samples in the binary frame.
        samples: usize,
        /// Their rate.
        sample_rate: u32,
        /// The samples themselves (sent as the binary frame, not in the JSON).
        #[serde(skip)]
        pcm: Vec<f32>,
    },
    /// Stop playing this turn at once.
    StopAudio {
        /// The turn.
        turn: u32,
    },
    /// A form asks its field `field` of `of`.
    Progress {
        /// The field's number, from 1.
        field: usize,
        /// Fields in the form.
        of: usize,
        /// The field's label.
        label: String,
        /// 第3项，共7项
        text: String,
    },
    /// The keypad opens for a kind of number, or closes.
    Keypad {
        /// Open or closed.
        open: bool,
        /// `id_number`, `phone` or `digits` (when open).
        expect: Option<String>,
        /// Expected length (18 for an ID number, 11 for a phone number).
        length: Option<usize>,
    },
    /// A key was taken.
    Key {
        /// The key.
        key: String,
        /// What has been typed, all but the last four characters as `*`.
        entered_masked: String,
        /// The turn of the key's spoken echo.
        turn: u32,
    },
    /// The turn filed something.
    Receipt {
        /// The flow: declaration, mediation, appointment, emergency, handover, feedback.
        kind: String,
        /// The receipt or case number.
        number: String,
        /// What it is for, spoken style.
        label: String,
    },
    /// The resident is handed to staff.
    Handover {
        /// The ticket, when recorded.
        number: Option<String>,
    },
    /// An emergency was raised.
    Emergency {
        /// The event's number, when recorded.
        number: Option<String>,
    },
    /// 小安 offers more time; the session ends after `seconds` more of silence.
    IdleWarning {
        /// Seconds left.
        seconds: u32,
    },
    /// Something went wrong (see [`ErrorCode`]).
    Error {
        /// The code.
        code: ErrorCode,
        /// Short spoken-style Chinese.
        message: String,
    },
    /// The session is over.
    Bye,
}

impl Event {
    /// The event as one JSON text frame.
    pub fn to_json(&self) -> String {
        // every field serialises (strings, numbers, options): this cannot fail
        serde_json::to_string(self).unwrap_or_else(|_| "{\"type\":\"error\"}".to_string())
    }

    /// The binary frame that follows an [`Event::Audio`]: its samples as PCM16 LE.
    pub fn audio_frame(&self) -> Option<Vec<u8>> {
        match self {
            Event::Audio { pcm, .. } => Some(pcm16_le(pcm)),
            _ => None,
        }
    }
}

/// Samples in [-1, 1] as 16-bit little-endian PCM.
pub fn pcm16_le(samples: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// 16-bit little-endian PCM as samples in [-1, 1] (an odd trailing byte is dropped).
pub fn from_pcm16_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
        .collect()
}

/// A typed number with all but its last four characters hidden.
pub fn mask_keys(keys: &str) -> String {
    let n = keys.chars().count();
    keys.chars()
        .enumerate()
        .map(|(i, c)| if i + 4 < n { '*' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_as_the_protocol_says() {
        let e = Event::Reply {
            turn: 2,
            sentence: 1,
            text: "您好。".into(),
            last: true,
        };
        assert_eq!(
            e.to_json(),
            r#"{"type":"reply","turn":2,"sentence":1,"text":"您好。","last":true}"#
        );
        let a = Event::Audio {
            turn: 2,
            sentence: 1,
            samples: 2,
            sample_rate: SAMPLE_RATE_OUT,
            pcm: vec![0.5, -1.0],
        };
        assert_eq!(
            a.to_json(),
            r#"{"type":"audio","turn":2,"sentence":1,"samples":2,"sample_rate":24000}"#
        );
        assert_eq!(a.audio_frame().unwrap().len(), 4);
        assert_eq!(
            ErrorCode::FrameTooLarge.event().to_json(),
            format!(
                r#"{{"type":"error","code":"frame_too_large","message":"{}"}}"#,
                ErrorCode::FrameTooLarge.message()
            )
        );
        assert_eq!(
            Event::StopAudio { turn: 3 }.to_json(),
            r#"{"type":"stop_audio","turn":3}"#
        );
    }

    #[test]
    fn client_messages_parse_and_garbage_does_not() {
        assert_eq!(
            ClientMessage::parse(r#"{"type":"key","key":"5"}"#),
            Ok(ClientMessage::Key { key: "5".into() })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"more_time"}"#),
            Ok(ClientMessage::MoreTime)
        );
        let hello = ClientMessage::parse(r#"{"type":"hello","token":"t","extra":1}"#).unwrap();
        assert!(matches!(hello, ClientMessage::Hello { token, .. } if token == "t"));
        assert!(ClientMessage::parse("{not json").is_err());
        assert!(ClientMessage::parse(r#"{"type":"dance"}"#).is_err());
        assert!(ClientMessage::parse(r#"{"type":"played","turn":"x"}"#).is_err());
    }

    #[test]
    fn pcm_round_trips_and_numbers_are_masked() {
        let x = [0.0, 0.25, -0.5];
        let back = from_pcm16_le(&pcm16_le(&x));
        for (a, b) in x.iter().zip(&back) {
            assert!((a - b).abs() < 1e-3);
        }
        assert_eq!(mask_keys("11010519491231002X"), "**************002X");
        assert_eq!(mask_keys("138"), "138");
    }
}
