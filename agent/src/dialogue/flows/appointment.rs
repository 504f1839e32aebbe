//! Appointments: booking a service at a day and time (or the nearest free one), and
//! moving or cancelling a booked one by its number.

use xiaoan_audio::Earcon;
use xiaoan_intents::{Awaiting, EntityKind, Intent, Understanding};

use super::state::Flow;
use crate::dialogue::reply::{number_for_ear, number_twice, Reply};
use crate::dialogue::session::Session;
use crate::dialogue::Agent;
use crate::records;

const ASK_APPT_NUMBER: &str = "请说一下预约号，一个数字一个数字说就行。";

/// What the resident wants done with a booked appointment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApptChange {
    /// Another day or time.
    Move,
    /// Cancel it.
    Cancel,
}

/// Does the resident want to move or cancel an appointment ("预约改到后天", "取消预约")?
/// Needs the appointment named (预约, 约好的, 改约…), so a bare "取消" stays a stop.
pub fn appointment_change(text: &str) -> Option<ApptChange> {
    const ABOUT: [&str; 6] = ["预约", "约好", "约的", "改约", "退约", "那个约"];
    const MOVE: [&str; 12] = [
        "改",
        "换",
        "挪",
        "推迟",
        "推后",
        "往后推",
        "延后",
        "提前",
        "调到",
        "调一下",
        "调个",
        "变更",
    ];
    const CANCEL: [&str; 10] = [
        "取消",
        "不去了",
        "去不了",
        "不要了",
        "退掉",
        "退了",
        "撤销",
        "作废",
        "不约了",
        "退约",
    ];
    if !ABOUT.iter().any(|w| text.contains(w)) {
        return None;
    }
    if MOVE.iter().any(|w| text.contains(w)) {
        Some(ApptChange::Move)
    } else if CANCEL.iter().any(|w| text.contains(w)) {
        Some(ApptChange::Cancel)
    } else {
        None
    }
}

/// What a change of appointment waits for: the number first, then a new day and time
/// (move) or a yes (cancel).
pub(super) fn change_awaiting(action: ApptChange, known: bool) -> Awaiting {
    match (known, action) {
        (false, _) => Awaiting::Nothing,
        (true, ApptChange::Move) => Awaiting::Slot(EntityKind::Date),
        (true, ApptChange::Cancel) => Awaiting::YesNo,
    }
}

/// A change of appointment's pending question and what can be said to it.
pub(super) fn change_asking(action: ApptChange, known: bool) -> (&'static str, &'static str) {
    match (known, action) {
        (false, _) => (ASK_APPT_NUMBER, "现在请说预约号，一个数字一个数字说。"),
        (true, ApptChange::Move) => (
            "您想改到哪天几点？",
            "现在请说新的日子和时间，比如“后天下午三点”。",
        ),
        (true, ApptChange::Cancel) => (
            "确定要取消这个预约吗？",
            "现在请说“对”取消，或者“不对”保留。",
        ),
    }
}

/// Whether the words name a day or a time.
fn says_when(u: &Understanding) -> bool {
    u.entities
        .iter()
        .any(|e| e.kind == EntityKind::Date || e.kind == EntityKind::Time)
}

/// Start booking: which service (from the guide) and when (from the words).
pub fn start_appointment(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    let service = a
        .retriever
        .search(&u.normalized.text, 1)
        .ok()
        .and_then(|h| h.into_iter().next())
        .filter(|h| h.confidence >= 0.3)
        .map(|h| h.id)
        .unwrap_or_else(|| "appointment".to_string());
    s.flow = Flow::Appointment {
        service: service.clone(),
    };
    if says_when(u) {
        return appointment_turn(a, s, &service, u);
    }
    let title = a
        .guide
        .item(&service)
        .map(|i| i.title.clone())
        .unwrap_or_else(|| "办事".into());
    let mut r = Reply::say(format!("好的，帮您约{title}。您想约哪天几点？"));
    r.flow = "appointment".into();
    r
}

/// The day (ISO) and time (HH:MM) said in an utterance, if any.
fn said_date_time(u: &Understanding) -> (Option<String>, Option<String>) {
    let first = |k: EntityKind| {
        u.entities
            .iter()
            .find(|e| e.kind == k)
            .map(|e| e.value.clone())
    };
    (first(EntityKind::Date), first(EntityKind::Time))
}

/// A day and time for the booking: booked (the number twice), full (the nearest free
/// time offered), not said yet, or the booking system down (said plainly).
pub(super) fn appointment_turn(
    a: &Agent,
    s: &mut Session,
    service: &str,
    u: &Understanding,
) -> Reply {
    if matches!(u.intent.intent, Intent::ConfirmNo) {
        s.flow = Flow::Idle;
        return Reply::say("好的，不约了。");
    }
    let (date, time) = said_date_time(u);
    let waiting = || Flow::Appointment {
        service: service.to_string(),
    };
    match records::book(a, s, service, date.as_deref(), time.as_deref()) {
        records::BookOutcome::Booked { number, when } => booked(s, number, &when),
        records::BookOutcome::Full { alternative } => {
            s.flow = waiting();
            Reply::say(match alternative {
                Some(t) => {
                    format!("那个时间约满了。最近能约的是{t}，可以吗？可以的话请直接说这个时间。")
                }
                None => "那个时间约满了，请换一天。".to_string(),
            })
        }
        records::BookOutcome::NeedTime => {
            s.flow = waiting();
            Reply::say("您想约哪天几点？比如“明天上午十点”。")
        }
        records::BookOutcome::Failed => {
            s.flow = Flow::Idle;
            Reply::say("预约系统出了点问题，我请工作人员帮您约。").with_earcon(Earcon::Error)
        }
    }
}

/// Booked: the day and time, and the number twice (kept for "改一下时间").
fn booked(s: &mut Session, number: String, when: &str) -> Reply {
    s.flow = Flow::Idle;
    s.last_appointment = Some(number.clone());
    s.last_number = Some((number.clone(), "预约号".into()));
    let mut r = Reply::say(format!(
        "约好了：{when}。{}到时候直接到窗口报预约号就行。",
        number_twice("预约号", &number)
    ))
    .with_earcon(Earcon::Done);
    r.receipt = Some(number);
    r
}

/// Start moving or cancelling an appointment: the number said now, or the one booked in
/// this session; otherwise ask for it.
pub fn start_change_appointment(
    a: &Agent,
    s: &mut Session,
    action: ApptChange,
    u: &Understanding,
) -> Reply {
    let number = appointment_number_in(&u.normalized.text).or_else(|| s.last_appointment.clone());
    s.flow = Flow::ChangeAppointment {
        action,
        booked: None,
    };
    match number {
        Some(n) => change_with_number(a, s, action, &n, u),
        None => {
            let mut r = Reply::say(ASK_APPT_NUMBER);
            r.flow = "appointment".into();
            r
        }
    }
}

/// A turn while changing an appointment: its number first, then the new time (move) or
/// the yes (cancel).
pub(super) fn change_appointment_turn(
    a: &Agent,
    s: &mut Session,
    action: ApptChange,
    booked: Option<(String, String, String)>,
    u: &Understanding,
) -> Reply {
    let Some((number, service, when)) = booked else {
        return match appointment_number_in(&u.normalized.text) {
            Some(n) => change_with_number(a, s, action, &n, u),
            None if u.intent.intent == Intent::ConfirmNo => {
                s.flow = Flow::Idle;
                Reply::say("好的，预约没有改动。")
            }
            None => Reply::say(format!("没听到预约号。{ASK_APPT_NUMBER}")),
        };
    };
    match action {
        ApptChange::Move => move_to_said_time(a, s, &number, &service, &when, u),
        ApptChange::Cancel => match u.intent.intent {
            _ if said_cancel(&u.normalized.text) => cancel_now(a, s, &number, &when),
            Intent::ConfirmYes => cancel_now(a, s, &number, &when),
            Intent::ConfirmNo => {
                s.flow = Flow::Idle;
                Reply::say(format!("好的，不取消，{when}的预约还在。"))
            }
            _ => Reply::say(format!("您{when}的预约，要取消吗？请说“对”或者“不对”。")),
        },
    }
}

/// "取消" / "取消吧" / "取消预约" answering "要取消吗": a yes. "不取消" is not.
fn said_cancel(text: &str) -> bool {
    text.contains("取消") && !text.contains("不取消") && !text.contains("别取消")
}

/// Cancel the appointment now and say so (or that it was gone, or the system is down).
fn cancel_now(a: &Agent, s: &mut Session, number: &str, when: &str) -> Reply {
    s.flow = Flow::Idle;
    match records::cancel_appointment(a, number) {
        Some(true) => {
            if s.last_appointment.as_deref() == Some(number) {
                s.last_appointment = None;
            }
            Reply::say(format!("好的，{when}的预约已经取消了。")).with_earcon(Earcon::Done)
        }
        Some(false) => Reply::say("这个预约已经不在了，可能之前取消过。"),
        None => Reply::say("预约系统出了点问题，没有取消成功。我请工作人员帮您。")
            .with_earcon(Earcon::Error),
    }
}

/// The number is known: look it up, then move (now, if a time was said) or ask.
fn change_with_number(
    a: &Agent,
    s: &mut Session,
    action: ApptChange,
    number: &str,
    u: &Understanding,
) -> Reply {
    let Some((service, when)) = records::booked_appointment(a, number) else {
        s.flow = Flow::ChangeAppointment {
            action,
            booked: None,
        };
        return Reply::say(format!(
            "没有找到预约号{}的预约。请再说一遍预约号，或者说“找工作人员”。",
            number_for_ear(number)
        ));
    };
    s.flow = Flow::ChangeAppointment {
        action,
        booked: Some((number.to_string(), service.clone(), when.clone())),
    };
    match action {
        ApptChange::Move => {
            if says_when(u) {
                move_to_said_time(a, s, number, &service, &when, u)
            } else {
                Reply::say(format!("您的预约是{when}。想改到哪天几点？"))
            }
        }
        ApptChange::Cancel => Reply::say(format!("您{when}的预约，确定要取消吗？")),
    }
}

/// Move the appointment to the day and time said: moved (same number), full (the
/// nearest free time), not said, or the booking system down.
fn move_to_said_time(
    a: &Agent,
    s: &mut Session,
    number: &str,
    service: &str,
    when: &str,
    u: &Understanding,
) -> Reply {
    if u.intent.intent == Intent::ConfirmNo {
        s.flow = Flow::Idle;
        return Reply::say(format!("好的，不改了，还是{when}。"));
    }
    let (date, time) = said_date_time(u);
    match records::move_appointment(a, number, service, date.as_deref(), time.as_deref()) {
        records::BookOutcome::Booked { when: new, .. } => {
            s.flow = Flow::Idle;
            let mut r = Reply::say(format!(
                "改好了，改到{new}。预约号不变，还是{}。",
                number_for_ear(number)
            ))
            .with_earcon(Earcon::Done);
            r.receipt = Some(number.to_string());
            r
        }
        records::BookOutcome::Full { alternative } => Reply::say(match alternative {
            Some(t) => format!("那个时间约不了。最近能约的是{t}，要改到这个时间，请直接说出来。"),
            None => "那个时间约不了，请换一天。".to_string(),
        }),
        records::BookOutcome::NeedTime => Reply::say(format!(
            "您的预约是{when}。想改到哪天几点？比如“后天下午三点”。"
        )),
        records::BookOutcome::Failed => {
            s.flow = Flow::Idle;
            Reply::say("预约系统出了点问题，没有改成。我请工作人员帮您。")
                .with_earcon(Earcon::Error)
        }
    }
}

/// An appointment number said in the words: ten digits (the normaliser has turned spoken
/// digits into Arabic ones).
pub fn appointment_number_in(text: &str) -> Option<String> {
    // spoken in groups ("二六一一，二九零零，零零零二"): the pauses are not part of it
    let joined: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, ',' | '，' | '、' | '-' | '.' | '。'))
        .collect();
    joined
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 10)
        .map(str::to_string)
}
