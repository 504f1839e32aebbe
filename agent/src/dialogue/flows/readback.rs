//! Reading a filled form back in parts a listener can take in, and the corrections
//! that follow ("不对，电话是……", "名字错了").

use xiaoan_audio::Earcon;
use xiaoan_intents::{Intent, Understanding};

use super::filing;
use super::form::{ask_next, entity_kind_of, field_def, fields_of, form_reply, validate};
use super::mediation::KIND;
use super::state::{Flow, FormStage, FormState};
use super::values::name_in;
use crate::dialogue::reply::{digits_for_ear, Reply};
use crate::dialogue::session::Session;
use crate::dialogue::Agent;
use crate::forms::{FieldDef, FieldKind};

/// The filled fields read back in parts a listener can take in: at most three short
/// fields a part (an ID number counts as two).
fn read_parts(a: &Agent, st: &FormState) -> Vec<Vec<(String, String)>> {
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let mut parts: Vec<Vec<(String, String)>> = Vec::new();
    let mut weight = 0;
    for f in fields {
        let Some(v) = st.values.get(&f.name).filter(|v| !v.is_empty()) else {
            continue;
        };
        let w = match f.kind {
            FieldKind::IdNumber => 2,
            FieldKind::Text if v.chars().count() > 15 => 2,
            _ => 1,
        };
        if parts.is_empty() || weight + w > 3 {
            parts.push(Vec::new());
            weight = 0;
        }
        weight += w;
        if let Some(p) = parts.last_mut() {
            p.push((f.name.clone(), f.read_back(&spoken_value(a, f.kind, v))));
        }
    }
    parts
}

/// The read-back part that holds field `name`.
fn part_of(a: &Agent, st: &FormState, name: &str) -> usize {
    read_parts(a, st)
        .iter()
        .position(|p| p.iter().any(|(n, _)| n == name))
        .unwrap_or(0)
}

/// Read the part the form is at (`read_from`) after `prefix`, and ask whether it is
/// right.
pub(super) fn read_back(a: &Agent, s: &mut Session, mut st: FormState, prefix: String) -> Reply {
    let parts = read_parts(a, &st);
    let part = st.read_from.min(parts.len().saturating_sub(1));
    let lines: Vec<String> = parts
        .get(part)
        .map(|p| p.iter().map(|(_, l)| l.clone()).collect())
        .unwrap_or_default();
    let kind = dispute_kind_said(a, &st, part);
    let head = match (parts.len(), part) {
        (0 | 1, _) => "我念一遍：".to_string(),
        (n, 0) => format!("我念一遍，分{n}次念，每次您说对不对。第1次："),
        (_, k) => format!("第{}次：", k + 1),
    };
    let ask = if parts.len() <= 1 {
        "都对吗？"
    } else {
        "对吗？"
    };
    st.stage = FormStage::ReadBack { part };
    let text = format!("{prefix}{head}{kind}{}。{ask}", lines.join("；"));
    let mut r = form_reply(s, st, text);
    r.awaiting = "yes_no".into();
    r
}

/// The dispute kind, said first in the mediation triage's first part ("邻里纠纷；").
fn dispute_kind_said(a: &Agent, st: &FormState, part: usize) -> String {
    st.values
        .get(KIND)
        .and_then(|k| a.mediation.kind(k))
        .filter(|k| k.id != "other" && part == 0)
        .map(|k| format!("{}纠纷；", k.name))
        .unwrap_or_default()
}

/// The answer to a part read back: yes reads the next part (or, after the last, goes
/// on to the filing); anything else asks which field is wrong, unless the words say it
/// already ("不对，电话是……").
pub(super) fn readback_turn(
    a: &Agent,
    s: &mut Session,
    mut st: FormState,
    part: usize,
    u: &Understanding,
) -> Reply {
    if u.intent.intent == Intent::ConfirmYes {
        let parts = read_parts(a, &st).len();
        if part + 1 < parts {
            st.read_from = part + 1;
            return read_back(a, s, st, "好的。".into());
        }
        st.read_from = 0;
        return filing::all_read_back(a, s, st);
    }
    // a "no" with the correction in it ("不对，电话是……"), or a bare "no"
    st.read_from = part;
    if let Some(name) = corrected_field(a, &st.form_id, &u.normalized.text) {
        return correct(a, s, st, &name, u);
    }
    st.stage = FormStage::Collect { current: None };
    s.flow = Flow::Form(st);
    Reply::say("哪一项不对？直接说就行，比如“电话是一三八……”。")
}

/// The answer to "哪一项不对" that names no field: "对" goes back to the read-back;
/// otherwise the question again, and after the third try the part is read again.
pub(super) fn which_field_turn(
    a: &Agent,
    s: &mut Session,
    mut st: FormState,
    u: &Understanding,
) -> Reply {
    // "对" to "哪一项不对": nothing to change after all, back to the read-back
    if u.intent.intent == Intent::ConfirmYes {
        return read_back(a, s, st, "好的。".into());
    }
    st.tries += 1;
    if st.tries >= 3 {
        st.tries = 0;
        return read_back(
            a,
            s,
            st,
            "我没听出是哪一项。我再念一遍，错的那一项您直接说新的，比如“电话是幺三八……”。".into(),
        );
    }
    s.flow = Flow::Form(st);
    Reply::say("哪一项要改？请说项目名字，比如“电话是……”。")
}

/// A field's value as it is read back aloud. Personal data is read whole only at the
/// accessible window (a headset); in the hall and at kiosks, where others hear, ID and
/// phone numbers only by their last four digits and a name only by its surname
/// (陈大文 → 陈某某).
pub(super) fn spoken_value(a: &Agent, kind: FieldKind, v: &str) -> String {
    let public = !matches!(a.settings.profile, crate::config::Profile::Window);
    match kind {
        FieldKind::PersonName if public => surname_only(v),
        FieldKind::IdNumber | FieldKind::Phone if public => last_four(v),
        FieldKind::IdNumber => digits_for_ear(v, 6),
        FieldKind::Phone => digits_for_ear(v, 4),
        FieldKind::Date => spoken_date(v),
        _ => v.to_string(),
    }
}

/// Two-character surnames a name may start with (the common ones).
const DOUBLE_SURNAMES: [&str; 12] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "夏侯", "尉迟", "公孙", "司徒",
];

/// A name as said where others hear: the surname, and 某 for each character after it
/// (at most two), as people say it of someone not named in public: 陈大文 → 陈某某,
/// 王芳 → 王某, 欧阳小明 → 欧阳某某.
fn surname_only(v: &str) -> String {
    let v = v.trim();
    let surname_len = if DOUBLE_SURNAMES.iter().any(|d| v.starts_with(d)) {
        2
    } else {
        1
    };
    let total = v.chars().count();
    let surname: String = v.chars().take(surname_len).collect();
    if total <= surname_len {
        return surname;
    }
    format!("{surname}{}", "某".repeat((total - surname_len).min(2)))
}

/// "尾号" and the last four characters of a number, digit by digit.
fn last_four(v: &str) -> String {
    let chars: Vec<char> = v.chars().filter(|c| !c.is_whitespace()).collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("尾号{}", digits_for_ear(&tail, 4))
}

/// An ISO date as said: "2026年11月1日".
pub(super) fn spoken_date(iso: &str) -> String {
    match chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d") {
        Ok(d) => {
            use chrono::Datelike;
            format!("{}年{}月{}日", d.year(), d.month(), d.day())
        }
        Err(_) => iso.to_string(),
    }
}

/// A correction such as "名字不对，是王小明" or "电话错了": which field it names.
pub(super) fn corrected_field(a: &Agent, form_id: &str, text: &str) -> Option<String> {
    let fields = fields_of(&a.forms, &a.mediation, form_id);
    // the longest label (or a telling part of it) mentioned in the text
    let mut best: Option<(usize, String)> = None;
    for f in fields {
        let mut keys = vec![f.label.clone()];
        keys.extend(label_keys(f));
        for k in keys {
            if !k.is_empty() && text.contains(k.as_str()) {
                let n = k.chars().count();
                if best.as_ref().is_none_or(|(m, _)| n > *m) {
                    best = Some((n, f.name.clone()));
                }
            }
        }
    }
    best.map(|(_, n)| n)
}

/// Words residents use for a field besides its label ("名字" for "姓名").
fn label_keys(f: &FieldDef) -> Vec<String> {
    let mut v = Vec::new();
    let l = &f.label;
    for (needle, key) in [
        ("姓名", "名字"),
        ("身份证", "身份证"),
        ("电话", "电话"),
        ("手机", "手机"),
        ("日期", "日子"),
        ("地址", "地址"),
        ("住址", "地址"),
    ] {
        if l.contains(needle) {
            v.push(key.to_string());
        }
    }
    // the resident's own words for the field's kind (电话 for 手机号, 住址 for 居住地址),
    // when the form has one field of that kind
    let own = match f.kind {
        FieldKind::Phone => &["电话", "手机", "号码", "联系方式"][..],
        FieldKind::IdNumber => &["身份证", "证件号"][..],
        FieldKind::Address => &["地址", "住址", "住在哪"][..],
        FieldKind::Date => &["日子", "日期", "哪天"][..],
        _ => &[][..],
    };
    v.extend(own.iter().map(|k| k.to_string()));
    // "母亲姓名" also answers to "母亲名字" and "妈妈的名字"
    if l.contains("母亲") {
        v.push(l.replace("母亲", "妈妈").replace("姓名", "名字"));
        v.push(l.replace("姓名", "名字"));
    }
    if l.contains("父亲") {
        v.push(l.replace("父亲", "爸爸").replace("姓名", "名字"));
        v.push(l.replace("姓名", "名字"));
    }
    v
}

/// Field `name` corrected with the value in the words; without one, the field is
/// asked again.
pub(super) fn correct(
    a: &Agent,
    s: &mut Session,
    mut st: FormState,
    name: &str,
    u: &Understanding,
) -> Reply {
    let Some(def) = field_def(&a.forms, &a.mediation, &st.form_id, name).cloned() else {
        s.flow = Flow::Form(st);
        return Reply::say("哪一项要改？");
    };
    match corrected_value(&def, u).map(|v| validate(a, &st.form_id, name, &v)) {
        Some(Ok(v)) => {
            st.values.insert(name.to_string(), v.clone());
            st.read_from = part_of(a, &st, name);
            let said = def.read_back(&spoken_value(a, def.kind, &v));
            ask_next(a, s, st, format!("改好了，{said}。"))
        }
        Some(Err(e)) => {
            st.stage = FormStage::Collect {
                current: Some(name.to_string()),
            };
            s.flow = Flow::Form(st);
            Reply::say(e).with_earcon(Earcon::Error)
        }
        None => {
            st.values.remove(name);
            st.stage = FormStage::Collect {
                current: Some(name.to_string()),
            };
            s.flow = Flow::Form(st);
            Reply::say(format!("好的，重新说一下。{}", def.ask))
        }
    }
}

/// The new value in a correction: for a name, the words after 是/叫; else an entity of
/// the field's kind; else the words after "是".
fn corrected_value(def: &FieldDef, u: &Understanding) -> Option<String> {
    let by_words = || words_after_shi(&u.normalized.original);
    if def.kind == FieldKind::PersonName {
        name_in(&u.normalized.text).or_else(by_words)
    } else {
        entity_kind_of(def.kind)
            .and_then(|k| {
                u.entities
                    .iter()
                    .find(|e| e.kind == k)
                    .map(|e| e.value.clone())
            })
            .or_else(by_words)
    }
}

/// The words after the last "是" ("电话是一三八……"), without the closing punctuation.
fn words_after_shi(t: &str) -> Option<String> {
    t.rfind('是')
        .map(|i| {
            t[i + '是'.len_utf8()..]
                .trim()
                .trim_matches(|c: char| "。，,.！!".contains(c))
                .to_string()
        })
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::surname_only;

    #[test]
    fn a_name_said_in_public_keeps_only_the_surname() {
        assert_eq!(surname_only("陈大文"), "陈某某");
        assert_eq!(surname_only("王芳"), "王某");
        assert_eq!(surname_only("欧阳小明"), "欧阳某某");
        assert_eq!(surname_only("司马光"), "司马某");
        assert_eq!(surname_only("李"), "李");
    }
}
