//! The end of a form: the commitment read and agreed to, then the filing, and the
//! receipt only once the store has it.

use xiaoan_audio::Earcon;
use xiaoan_intents::{Intent, Understanding};

use super::mediation::{self, MEDIATION};
use super::readback::spoken_date;
use super::receipt::number_given;
use super::state::{Flow, FormStage, FormState};
use crate::dialogue::reply::{number_for_ear, number_twice, Reply};
use crate::dialogue::session::Session;
use crate::dialogue::Agent;
use crate::records;

/// Every part read back was confirmed: the triage goes to a mediator, a declaration to
/// its commitment.
pub(super) fn all_read_back(a: &Agent, s: &mut Session, mut st: FormState) -> Reply {
    if st.form_id == MEDIATION {
        return file(a, s, st);
    }
    let commitment = a
        .forms
        .get(&st.form_id)
        .map(|f| f.commitment.clone())
        .unwrap_or_default();
    st.stage = FormStage::Commitment;
    s.flow = Flow::Form(st);
    let mut r = Reply::say(format!(
        "最后念一下承诺：{commitment}您同意吗？同意就说“同意”或者“我承诺”。"
    ));
    r.flow = "declaration".into();
    r
}

/// The answer to the commitment: yes files; no keeps the finished form for staff (a
/// finished form is never dropped on one word); anything else asks again.
pub(super) fn commitment_turn(
    a: &Agent,
    s: &mut Session,
    st: FormState,
    u: &Understanding,
) -> Reply {
    match u.intent.intent {
        Intent::ConfirmYes => file(a, s, st),
        Intent::ConfirmNo => {
            let kept = records::draft(a, s, &st.form_id, &st.values, "not_agreed");
            s.flow = Flow::Idle;
            Reply::say(match kept {
                Some(no) => format!(
                    "好的，没有提交。填好的内容留给工作人员了，编号{}。不同意承诺的话，可以带齐材料到窗口办，或者说“找工作人员”。",
                    number_for_ear(&no)
                ),
                None => "好的，没有提交。不同意承诺的话，可以带齐材料到窗口办，或者说“找工作人员”。".to_string(),
            })
        }
        _ => {
            s.flow = Flow::Form(st);
            Reply::say("请说“同意”或者“不同意”。")
        }
    }
}

/// File the form: the mediation triage goes to a mediator's slot, a declaration to
/// the store.
fn file(a: &Agent, s: &mut Session, st: FormState) -> Reply {
    if st.form_id == MEDIATION {
        return mediation::offer_mediator(a, s, st);
    }
    file_declaration(a, s, st)
}

/// The declaration filed: the receipt number (twice), what is still owed, and an offer
/// to read the number again. When the store refuses, nothing is filed, the answers are
/// kept, and the resident hears so.
fn file_declaration(a: &Agent, s: &mut Session, st: FormState) -> Reply {
    let receipt = match records::file_declaration(a, s, &st.form_id, &st.values) {
        Ok(receipt) => receipt,
        Err(_) => {
            // nothing half-written: the store rolls the transaction back
            s.flow = Flow::Form(st);
            return Reply::say("提交的时候出了问题，没有提交成功，您说的内容都还在。请再说一次“同意”，或者说“找工作人员”。")
                .with_earcon(Earcon::Error);
        }
    };
    let title = a
        .forms
        .get(&st.form_id)
        .map(|f| f.title.clone())
        .unwrap_or_default();
    let what = format!("{title}的回执号");
    let mut r = Reply::say(format!(
        "已经提交了。{}以后查进度、补交材料都要用这个号，请记下来。{}要我再念一遍回执号吗？",
        number_twice(&what, &receipt),
        materials_owed(a, &st.form_id)
    ))
    .with_earcon(Earcon::Done);
    r.flow = "declaration".into();
    number_given(s, r, receipt, what)
}

/// The materials still owed for a form and by when ("还需要补交：…。"), or nothing.
fn materials_owed(a: &Agent, form_id: &str) -> String {
    let owed = a
        .forms
        .get(form_id)
        .map(|f| f.materials_owed(a.today()))
        .unwrap_or_default();
    if owed.is_empty() {
        return String::new();
    }
    let items: Vec<String> = owed
        .iter()
        .map(|m| {
            format!(
                "{}，{}前补交",
                m.name,
                spoken_date(&m.due.format("%Y-%m-%d").to_string())
            )
        })
        .collect();
    format!("还需要补交：{}。", items.join("；"))
}
