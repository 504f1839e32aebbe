//! Numbers given to the resident (receipt, case, ticket, appointment): kept for the
//! session, offered again at once, and read again on "回执号是多少".

use xiaoan_intents::{Intent, Understanding};

use super::state::Flow;
use super::values::plain;
use crate::dialogue::reply::{number_twice, Reply};
use crate::dialogue::session::Session;

/// A number just given in `r`: kept for "回执号是多少", carried as the reply's receipt,
/// and the session waits for a yes to read it again.
pub(super) fn number_given(s: &mut Session, mut r: Reply, number: String, what: String) -> Reply {
    s.last_number = Some((number.clone(), what.clone()));
    s.flow = Flow::OfferNumber {
        number: number.clone(),
        what,
    };
    r.receipt = Some(number);
    r
}

/// The answer to "要我再念一遍…吗": yes reads it twice, no moves on; anything else is
/// a new request (`None`).
pub(super) fn offer_number_turn(
    s: &mut Session,
    number: &str,
    what: &str,
    u: &Understanding,
) -> Option<Reply> {
    s.flow = Flow::Idle;
    match u.intent.intent {
        Intent::ConfirmYes => Some(Reply::say(format!(
            "{}还要办别的吗？",
            number_twice(what, number)
        ))),
        Intent::ConfirmNo => Some(Reply::say("好的。还要办别的吗？")),
        _ => None,
    }
}

/// "回执号是多少" / "再念一遍回执号": the last number given in this session, read
/// again (twice, with what it is for).
pub fn number_asked(s: &Session, text: &str) -> Option<Reply> {
    let t = plain(text);
    let names = [
        "回执",
        "编号",
        "案件号",
        "预约号",
        "单号",
        "号码",
        "取的号",
        "我的号",
    ];
    let asks = [
        "多少",
        "再念",
        "再说",
        "念一下",
        "几号",
        "再读",
        "念一遍",
        "说一遍",
        "几多",
        "讲一遍",
        "再讲",
        "是啥",
        "是什么",
        "忘了",
        "记不住",
    ];
    if t.chars().count() > 14
        || !names.iter().any(|w| t.contains(w))
        || !asks.iter().any(|w| t.contains(w))
        || ["手机", "电话", "身份证"].iter().any(|w| t.contains(w))
    {
        return None;
    }
    Some(match &s.last_number {
        Some((no, what)) => Reply::say(format!("{}还要办别的吗？", number_twice(what, no))),
        None => Reply::say("这次还没有给您编号。办完一件事，我会把回执号念给您。"),
    })
}
