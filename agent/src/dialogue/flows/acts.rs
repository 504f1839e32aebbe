//! One-turn acts: a hand-over to staff (with where to wait), the queue, feedback, and
//! the dialect a resident names.

use xiaoan_audio::Earcon;
use xiaoan_intents::Understanding;

use super::cancel::save_draft;
use super::state::Flow;
use crate::dialogue::reply::{number_for_ear, Reply};
use crate::dialogue::session::Session;
use crate::dialogue::Agent;
use crate::records;

/// Hand over to staff: a ticket with the conversation so far, and where to wait.
pub fn handoff(a: &Agent, s: &mut Session) -> Reply {
    let next = what_happens_next(a.settings.profile);
    ticket_for_staff(a, s, |ticket| match ticket {
        Some(no) => format!(
            "好的，我请工作人员来帮您。{next}您的号是{}。",
            number_for_ear(no)
        ),
        None => format!("好的，我请工作人员来帮您。{next}"),
    })
}

/// Where staff find a resident who asked for a person (written on the ticket).
fn wait_at(profile: crate::config::Profile) -> &'static str {
    use crate::config::Profile;
    match profile {
        Profile::Robot => "大厅，小安机器人旁",
        Profile::Window => "无障碍服务专窗",
        Profile::Kiosk => "网格站服务台",
    }
}

/// What a resident does after a hand-over, where this terminal stands: the robot's
/// resident is found where they are, the window's is already at the desk, a kiosk's
/// goes to the grid station's desk.
pub fn what_happens_next(profile: crate::config::Profile) -> &'static str {
    use crate::config::Profile;
    match profile {
        Profile::Robot => "请在原地等，工作人员过来找您。",
        Profile::Window => "您就在窗口这儿稍等，工作人员马上来。",
        Profile::Kiosk => "请到网格站的服务台，把号告诉工作人员。",
    }
}

/// A hand-over ticket (the conversation so far, any half-filled form kept as a draft)
/// and the reply `say` words for it. When the ticket did not reach the store, the
/// resident hears that instead, and what to do.
pub(super) fn ticket_for_staff(
    a: &Agent,
    s: &mut Session,
    say: impl FnOnce(Option<&str>) -> String,
) -> Reply {
    let _ = save_draft(a, s, "handoff");
    s.flow = Flow::Idle;
    match records::handoff(a, s, wait_at(a.settings.profile)) {
        Ok(no) => {
            let mut r = Reply::say(say(Some(&no))).with_earcon(Earcon::Done);
            r.flow = "handoff".into();
            s.last_number = Some((no.clone(), "找工作人员的号".into()));
            r.receipt = Some(no);
            r
        }
        Err(_) => {
            let mut r = Reply::say(
                "对不起，系统出了问题，工作人员还没收到通知，我会接着重试。请您直接到最近的窗口找工作人员，或者请旁边的人帮您叫一下。",
            )
            .with_earcon(Earcon::Error);
            r.flow = "handoff".into();
            r
        }
    }
}

/// Queue status from the store.
pub fn queue_status(a: &Agent, _s: &mut Session) -> Reply {
    let (waiting, minutes) = records::queue(a);
    if waiting == 0 {
        Reply::say("现在不用排队，可以直接去窗口办。")
    } else {
        Reply::say(format!(
            "现在前面还有{waiting}位，大概要等{minutes}分钟。要我帮您取个号吗？可以说“找工作人员”。"
        ))
    }
}

/// Complaint, suggestion or praise (随手拍, 服务评价): recorded with a number.
pub fn feedback(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    let no = records::feedback(a, s, &u.normalized.original);
    let mut r = Reply::say(match &no {
        Some(n) => format!(
            "谢谢您，已经记下了，编号{}。工作人员会在三个工作日内处理，并给您回个话。",
            number_for_ear(n)
        ),
        None => "谢谢您，已经记下了。工作人员会尽快处理。".to_string(),
    })
    .with_earcon(Earcon::Done);
    r.receipt = no;
    r
}

/// A dialect named in the resident's words ("我讲上海话").
pub fn dialect_named_in(text: &str) -> Option<&'static str> {
    const NAMES: &[(&str, &str)] = &[
        ("上海话", "wuu-sh"),
        ("上海闲话", "wuu-sh"),
        ("沪语", "wuu-sh"),
        ("上海言话", "wuu-sh"),
        ("苏州话", "wuu-sz"),
        ("苏州闲话", "wuu-sz"),
        ("广东话", "yue"),
        ("粤语", "yue"),
        ("白话", "yue"),
        ("廣東話", "yue"),
        ("广州话", "yue"),
        ("香港话", "yue"),
        ("闽南话", "nan"),
        ("闽南语", "nan"),
        ("台语", "nan"),
        ("福建话", "nan"),
        ("厦门话", "nan"),
        ("四川话", "cmn-sc"),
        ("成都话", "cmn-sc"),
        ("重庆话", "cmn-sc"),
        ("客家话", "hak"),
        ("客话", "hak"),
        ("普通话", "cmn"),
        ("国语", "cmn"),
        ("官话", "cmn"),
    ];
    NAMES
        .iter()
        .find(|(n, _)| text.contains(n))
        .map(|(_, c)| *c)
}
