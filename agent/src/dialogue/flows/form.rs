//! A form being filled, declaration or mediation triage: which form, the next
//! question, and each answer taken into its field (or the reason it was not).

use xiaoan_intents::{Entity, EntityKind, Intent, Understanding};

use super::cancel::{confirm_cancel, says_cancel, says_goodbye};
use super::emergency::emergency;
use super::filing;
use super::mediation::{self, DANGER, MEDIATION};
use super::navigation::form_command;
use super::readback::{self, correct, corrected_field, read_back, spoken_value};
use super::retry::{failed_try, keypad_for};
use super::state::{Flow, FormStage, FormState};
use super::values::{
    free_value, is_correction, is_skip, meant_date, plain, whole_address, FILLERS,
};
use crate::dialogue::reply::Reply;
use crate::dialogue::session::Session;
use crate::dialogue::Agent;
use crate::forms::{FieldDef, FieldKind, Forms, Mediation};

/// The declarations that can be filed here, as said in a list.
pub(super) const PICK_FORM_LIST: &str = "生育登记、居住登记、房产过户、开证明";
pub(super) const PICK_FORM: &str = "您要办哪一项？可以办生育登记、居住登记、房产过户，或者开证明。";

/// A field of a declaration form or of the mediation triage.
pub(super) fn field_def<'a>(
    forms: &'a Forms,
    mediation: &'a Mediation,
    form_id: &str,
    name: &str,
) -> Option<&'a FieldDef> {
    if form_id == MEDIATION {
        mediation.field(name)
    } else {
        forms.get(form_id).and_then(|f| f.field(name))
    }
}

/// The fields of a form in asking order (none for an unknown form).
pub(super) fn fields_of<'a>(
    forms: &'a Forms,
    mediation: &'a Mediation,
    form_id: &str,
) -> &'a [FieldDef] {
    if form_id == MEDIATION {
        &mediation.fields
    } else {
        forms
            .get(form_id)
            .map(|f| f.fields.as_slice())
            .unwrap_or(&[])
    }
}

/// The entity kind that fills a field kind (None: the whole answer is the value).
pub fn entity_kind_of(k: FieldKind) -> Option<EntityKind> {
    match k {
        FieldKind::PersonName => Some(EntityKind::PersonName),
        FieldKind::IdNumber => Some(EntityKind::IdNumber),
        FieldKind::Phone => Some(EntityKind::Phone),
        FieldKind::Date => Some(EntityKind::Date),
        FieldKind::Address => Some(EntityKind::Address),
        FieldKind::Count => Some(EntityKind::Count),
        FieldKind::Text | FieldKind::Choice => None,
    }
}

/// The label of an entity kind in `awaiting` strings.
pub fn entity_kind_name(k: EntityKind) -> &'static str {
    match k {
        EntityKind::PersonName => "person_name",
        EntityKind::IdNumber => "id_number",
        EntityKind::Phone => "phone",
        EntityKind::Date => "date",
        EntityKind::Time => "time",
        EntityKind::Address => "address",
        EntityKind::Money => "money",
        EntityKind::Count => "count",
    }
}

/// The declaration the words name: by its words (生育, 过户…), its title, or a strong
/// guide hit on its item.
fn form_named_in(a: &Agent, text: &str) -> Option<String> {
    const WORDS: &[(&str, &str)] = &[
        ("生育", "birth-registration"),
        ("生小孩", "birth-registration"),
        ("生孩子", "birth-registration"),
        ("出生", "birth-registration"),
        ("生bb", "birth-registration"),
        ("居住登记", "residence-registration"),
        ("暂住", "residence-registration"),
        ("外来人员", "residence-registration"),
        ("租房登记", "residence-registration"),
        ("过户", "property-transfer"),
        ("房产", "property-transfer"),
        ("房子转", "property-transfer"),
        ("证明", "certificate-issuance"),
        ("开证明", "certificate-issuance"),
    ];
    for (w, id) in WORDS {
        if text.contains(w) && a.forms.get(id).is_some() {
            return Some((*id).to_string());
        }
    }
    for f in a.forms.iter() {
        if text.contains(f.title.as_str()) {
            return Some(f.id.clone());
        }
    }
    // a guide hit on a form's item
    let hits = a.retriever.search(text, 1).ok()?;
    let top = hits.first()?;
    if top.confidence >= 0.5 && a.forms.get(&top.id).is_some() {
        return Some(top.id.clone());
    }
    None
}

/// Start a self-declaration: find which form, pre-fill what the first sentence already
/// said, ask the first missing field.
pub fn start_declaration(a: &Agent, s: &mut Session, u: &Understanding) -> Reply {
    match form_named_in(a, &u.normalized.text) {
        Some(id) => begin_form(a, s, &id, u),
        None => {
            s.flow = Flow::PickForm;
            let mut r = Reply::say(PICK_FORM);
            r.flow = "declaration".into();
            r
        }
    }
}

/// The answer to "您要办哪一项": the form named begins; "不" ends it; anything else is
/// a new request (`None`).
pub(super) fn pick_form_turn(a: &Agent, s: &mut Session, u: &Understanding) -> Option<Reply> {
    match form_named_in(a, &u.normalized.text) {
        Some(id) => Some(begin_form(a, s, &id, u)),
        None if matches!(u.intent.intent, Intent::ConfirmNo) => {
            s.flow = Flow::Idle;
            Some(Reply::say("好的，不办了。还有别的事吗？"))
        }
        None => {
            s.flow = Flow::Idle;
            None
        }
    }
}

/// The form's introduction, what the first sentence already said filled in, and the
/// first question.
fn begin_form(a: &Agent, s: &mut Session, id: &str, u: &Understanding) -> Reply {
    let intro = a.forms.get(id).map(|f| f.intro.clone()).unwrap_or_default();
    let mut st = FormState::new(id);
    let (_filled, _errs) = fill_from_entities(a, &mut st, &u.entities, None);
    ask_next(a, s, st, intro)
}

/// Fill fields from entities; the field asked last gets the first matching entity.
/// Returns (fields filled, spoken validation errors).
pub(super) fn fill_from_entities(
    a: &Agent,
    st: &mut FormState,
    entities: &[Entity],
    current: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let mut filled = Vec::new();
    let mut errors = Vec::new();
    let mut used = vec![false; entities.len()];
    // order: the current field first, then the rest in asking order
    let mut order: Vec<&FieldDef> = Vec::new();
    if let Some(c) = current {
        if let Some(f) = fields.iter().find(|f| f.name == c) {
            order.push(f);
        }
    }
    order.extend(fields.iter().filter(|f| Some(f.name.as_str()) != current));
    for f in order {
        let is_current = Some(f.name.as_str()) == current;
        if st.values.contains_key(&f.name) && !is_current {
            continue;
        }
        let Some(want) = entity_kind_of(f.kind) else {
            continue;
        };
        let Some(i) = entities
            .iter()
            .enumerate()
            .position(|(i, e)| !used[i] && e.kind == want)
        else {
            continue;
        };
        used[i] = true;
        match validate(a, &st.form_id, &f.name, &entities[i].value) {
            Ok(v) => {
                st.values.insert(f.name.clone(), v);
                filled.push(f.name.clone());
            }
            Err(e) => errors.push(e),
        }
    }
    (filled, errors)
}

/// A value checked against the field's rules: the value as kept, or the reason said.
pub(super) fn validate(
    a: &Agent,
    form_id: &str,
    field: &str,
    value: &str,
) -> Result<String, String> {
    match field_def(&a.forms, &a.mediation, form_id, field) {
        Some(d) => d.validate_on(value, a.today()),
        None => Err("这一项表里没有。".into()),
    }
}

/// The form in the session, its reply saying `text`.
pub(super) fn form_reply(s: &mut Session, st: FormState, text: String) -> Reply {
    s.flow = Flow::Form(st);
    let mut r = Reply::say(text);
    r.flow = s.flow.name().to_string();
    r
}

/// After `prefix`, the next question: the next field, the triage's danger question, or
/// (all answered) the read-back.
pub(super) fn ask_next(a: &Agent, s: &mut Session, st: FormState, prefix: String) -> Reply {
    match next_field(a, &st) {
        Some(f) => ask_field(a, s, st, f, prefix),
        None if st.form_id == MEDIATION && !st.values.contains_key(DANGER) => {
            mediation::ask_danger(a, s, st, prefix)
        }
        None => read_back(a, s, st, prefix),
    }
}

/// The field to ask next: the required ones in order, then the optional ones (asked
/// once, unless answered or skipped), and the fields put off after three tries last.
fn next_field<'a>(a: &'a Agent, st: &FormState) -> Option<&'a FieldDef> {
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let open = |f: &FieldDef| !st.values.contains_key(&f.name) && !st.put_off.contains(&f.name);
    fields
        .iter()
        .find(|f| f.required && open(f))
        .or_else(|| fields.iter().find(|f| !f.required && open(f)))
        .or_else(|| fields.iter().find(|f| !st.values.contains_key(&f.name)))
}

/// Ask field `f` (its tries start again unless it was the field asked last).
fn ask_field(a: &Agent, s: &mut Session, mut st: FormState, f: &FieldDef, prefix: String) -> Reply {
    st.put_off.retain(|n| *n != f.name);
    let again = matches!(&st.stage, FormStage::Collect { current: Some(c) } if *c == f.name);
    if !again {
        st.tries = 0;
    }
    let progress = progress(fields_of(&a.forms, &a.mediation, &st.form_id), &f.name);
    st.stage = FormStage::Collect {
        current: Some(f.name.clone()),
    };
    form_reply(s, st, format!("{prefix}{progress}{}", f.ask))
}

/// Where the resident is in the form: "第3项，共7项：".
pub(super) fn progress(fields: &[FieldDef], name: &str) -> String {
    match fields.iter().position(|f| f.name == name) {
        Some(i) if fields.len() > 1 => format!("第{}项，共{}项：", i + 1, fields.len()),
        _ => String::new(),
    }
}

/// A turn while a form is open: danger in a dispute raises the alarm; a form command
/// (上一步, 跳过…) is done; otherwise the words answer the stage the form is at.
pub(super) fn form_turn(a: &Agent, s: &mut Session, st: FormState, u: &Understanding) -> Reply {
    if st.form_id == MEDIATION && mediation::names_danger(a, u) {
        return emergency(a, s, u);
    }
    let st = match form_command(a, s, st, u) {
        Ok(r) => return r,
        Err(st) => st,
    };
    match st.stage.clone() {
        FormStage::Commitment => filing::commitment_turn(a, s, st, u),
        FormStage::ReadBack { part } => readback::readback_turn(a, s, st, part, u),
        FormStage::Collect { current } => collect_turn(a, s, st, current, u),
    }
}

/// While fields are asked: a correction of an earlier field, the field that was wrong
/// (after "哪一项不对"), the danger question, or the answer to the field asked.
fn collect_turn(
    a: &Agent,
    s: &mut Session,
    st: FormState,
    current: Option<String>,
    u: &Understanding,
) -> Reply {
    let text = &u.normalized.text;
    // a correction of an earlier field
    if is_correction(text) || current.is_none() {
        if let Some(name) = corrected_field(a, &st.form_id, text) {
            if current.as_deref() != Some(name.as_str()) || current.is_none() {
                return correct(a, s, st, &name, u);
            }
        }
    }
    let Some(cur) = current else {
        return readback::which_field_turn(a, s, st, u);
    };
    if cur == DANGER {
        return mediation::danger_turn(a, s, st, u);
    }
    let Some(def) = field_def(&a.forms, &a.mediation, &st.form_id, &cur).cloned() else {
        s.flow = Flow::Idle;
        return Reply::say("这张表出了问题，我请工作人员来帮您。");
    };
    answer_field(a, s, st, &cur, &def, u)
}

/// The answer to field `cur`: left blank (optional fields), a cancel asked about, a
/// filler met with the question again, or the value taken and the next question.
fn answer_field(
    a: &Agent,
    s: &mut Session,
    st: FormState,
    cur: &str,
    def: &FieldDef,
    u: &Understanding,
) -> Reply {
    let text = &u.normalized.text;
    if !def.required && (matches!(u.intent.intent, Intent::ConfirmNo) || is_skip(text)) {
        return leave_blank(a, s, st, &def.name);
    }
    // cancel words never become a value, whatever the classifier made of them
    if says_cancel(text) && text.chars().count() <= 8 {
        s.flow = Flow::Form(st.clone());
        if let Some(r) = confirm_cancel(s) {
            return r;
        }
    }
    // a filler or a command is never a value: the question again, plainly
    if never_a_value(u) {
        return resume_form(a, s, st, &format!("请直接说{}。", def.label));
    }
    match take_value(a, s, st, cur, def, u) {
        Ok(st) => {
            let prefix = taken(a, &st, cur, def);
            ask_next(a, s, st, prefix)
        }
        Err(r) => r,
    }
}

/// An optional field left empty, and on to the next question.
pub(super) fn leave_blank(a: &Agent, s: &mut Session, mut st: FormState, name: &str) -> Reply {
    st.values.insert(name.to_string(), String::new());
    ask_next(a, s, st, "好的，这项先空着。".into())
}

/// Fillers (好的, 嗯), bare commands and "再见" are never a field's value.
fn never_a_value(u: &Understanding) -> bool {
    let said = plain(&u.normalized.text);
    let said_raw = plain(&u.normalized.original);
    said.is_empty()
        || FILLERS.contains(&said.as_str())
        || FILLERS.contains(&said_raw.as_str())
        || says_goodbye(&u.normalized.text)
}

/// The answer's value for field `cur` kept in the form; `Err` is the failed try's reply
/// (the reason, and help after the third).
fn take_value(
    a: &Agent,
    s: &mut Session,
    mut st: FormState,
    cur: &str,
    def: &FieldDef,
    u: &Understanding,
) -> Result<FormState, Reply> {
    let entities = entities_meant(a, def, u);
    let (filled, errors) = fill_from_entities(a, &mut st, &entities, Some(cur));
    if filled.iter().any(|f| f == cur) {
        if def.kind == FieldKind::Address {
            widen_address(a, &mut st, cur, u);
        }
        return Ok(st);
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(failed_try(
            s,
            st,
            cur.to_string(),
            e,
            keypad_for(a, def.kind),
        ));
    }
    // free text, choices, or a value the entity extractor did not catch
    let raw = if entity_kind_of(def.kind).is_some() && def.kind != FieldKind::PersonName {
        u.normalized.text.clone()
    } else {
        free_value(def, u)
    };
    match validate(a, &st.form_id, cur, &raw) {
        Ok(v) => {
            st.values.insert(cur.to_string(), v);
            Ok(st)
        }
        Err(e) => Err(failed_try(
            s,
            st,
            cur.to_string(),
            e,
            keypad_for(a, def.kind),
        )),
    }
}

/// The entities of the answer, with a date as the resident means it first (上个月十五号;
/// 十月一号 in the past) when the field is a date.
fn entities_meant(a: &Agent, def: &FieldDef, u: &Understanding) -> Vec<Entity> {
    let mut entities = u.entities.clone();
    if def.kind == FieldKind::Date {
        if let Some(d) = meant_date(u, a.today(), def.not_future) {
            entities.retain(|e| e.kind != EntityKind::Date);
            entities.insert(
                0,
                Entity {
                    kind: EntityKind::Date,
                    value: d,
                    text: u.normalized.text.clone(),
                    role: None,
                },
            );
        }
    }
    entities
}

/// An address said whole replaces the building and room the extractor took from it.
fn widen_address(a: &Agent, st: &mut FormState, cur: &str, u: &Understanding) {
    let found = st.values.get(cur).cloned().unwrap_or_default();
    if let Some(w) = whole_address(u, &found) {
        if let Ok(v) = validate(a, &st.form_id, cur, &w) {
            st.values.insert(cur.to_string(), v);
        }
    }
}

/// What is said before the next question once a value is taken: the value itself when
/// the profile confirms each step.
fn taken(a: &Agent, st: &FormState, cur: &str, def: &FieldDef) -> String {
    if a.settings.confirm_each_step {
        let v = st.values.get(cur).cloned().unwrap_or_default();
        format!("好的，{}。", def.read_back(&spoken_value(a, def.kind, &v)))
    } else {
        "好的。".to_string()
    }
}

/// Back to the form where it was: the pending question again.
pub(super) fn resume_form(a: &Agent, s: &mut Session, st: FormState, prefix: &str) -> Reply {
    s.flow = Flow::Form(st);
    let q = pending_question(a, s).unwrap_or_default();
    let mut r = Reply::say(format!("{prefix}{q}"));
    r.flow = s.flow.name().to_string();
    r
}

/// The question the resident is being asked now, in full (the field's own question
/// for a form), to repeat after a control or a pause.
pub fn pending_question(a: &Agent, s: &Session) -> Option<String> {
    match &s.flow {
        Flow::Form(st) => match &st.stage {
            FormStage::Collect {
                current: Some(name),
            } if name == DANGER => Some(a.mediation.danger_question.clone()),
            FormStage::Collect {
                current: Some(name),
            } => field_def(&a.forms, &a.mediation, &st.form_id, name).map(|d| d.ask.clone()),
            _ => s.flow.prompt(),
        },
        other => other.prompt(),
    }
}
