//! Masking of personal data for logs and default staff views.
//!
//! Names keep the first and last character (`王*明`), ID numbers the first 3 and last 4
//! (`110***********1234`), phone numbers the first 3 and last 4 (`138****5678`). Free text
//! (what a resident said) has its numbers masked whether written as digits or spoken
//! ("幺三八，幺二三四，五六七八"), and the names in it: those the understanding stage
//! finds (我叫王小明, 孩子妈妈叫李芳) and those the record itself holds (a form's name
//! fields), wherever they recur in the transcript. A name said with no cue at all and not
//! in the record ("王小明来了") is not found; staff views are for staff only either way.

use serde_json::Value;

/// Mask a person's name: `王小明` → `王*明`, `王明` → `王*`, `欧阳小明` → `欧**明`.
pub fn name(s: &str) -> String {
    xiaoan_intents::mask_name(s.trim())
}

/// Mask an ID number: `110105194912310021` → `110***********0021`.
pub fn id_number(s: &str) -> String {
    xiaoan_intents::mask_id(s.trim())
}

/// Mask a phone number: `13812345678` → `138****5678`.
pub fn phone(s: &str) -> String {
    xiaoan_intents::mask_phone(s.trim())
}

/// A character of a number as written or spoken: `0-9`, full-width digits, and the
/// spoken digits 零〇一二三四五六七八九幺两洞.
fn is_digit_char(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c) || "零〇一二三四五六七八九幺两洞".contains(c)
}

/// A pause inside a number read out in groups ("138 1234 5678", "幺三八，幺二三四").
fn is_group_pause(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '，' | '、' | '-' | '—')
}

/// Mask phone- and ID-like numbers and personal names inside free text.
pub fn text(s: &str) -> String {
    text_with_names(s, &[])
}

/// [`text`], also masking every occurrence of the `known` names (the record's own).
pub fn text_with_names(s: &str, known: &[String]) -> String {
    let numbers_masked = mask_numbers(s);
    let mut names: Vec<String> = known
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| n.chars().count() >= 2)
        .collect();
    names.extend(names_in(s));
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    names.dedup();
    let mut out = numbers_masked;
    for n in &names {
        out = replace_name(&out, n);
    }
    out
}

/// The person names the understanding stage finds in `s`.
fn names_in(s: &str) -> Vec<String> {
    let norm = xiaoan_intents::normalize(s);
    let day = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    xiaoan_intents::extract_entities(&norm, day)
        .into_iter()
        .filter(|e| e.kind == xiaoan_intents::EntityKind::PersonName)
        .map(|e| e.value)
        .filter(|n| n.chars().count() >= 2)
        .collect()
}

/// Replace `name` in `s` by its mask; when the text is in Traditional characters the name
/// (found in Simplified) is matched window by window through the same normaliser.
fn replace_name(s: &str, name: &str) -> String {
    if s.contains(name) {
        return s.replace(name, &self::name(name));
    }
    let chars: Vec<char> = s.chars().collect();
    let k = name.chars().count();
    if chars.len() < k {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if i + k <= chars.len() {
            let window: String = chars[i..i + k].iter().collect();
            if xiaoan_intents::normalize(&window).text == name {
                out.push_str(&self::name(&window));
                i += k;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Mask numbers of 7 digits or more (phone, ID, bank card…), written or spoken, also when
/// read out in groups; the pauses between groups are kept.
fn mask_numbers(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_digit_char(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // extend over digits and single pauses that have a digit after them
        let mut j = i;
        let mut digits = 0;
        while j < chars.len() {
            if is_digit_char(chars[j]) {
                digits += 1;
                j += 1;
            } else if is_group_pause(chars[j]) && j + 1 < chars.len() && is_digit_char(chars[j + 1])
            {
                j += 1;
            } else {
                break;
            }
        }
        // an ID number may end in X
        if digits == 17 && j < chars.len() && matches!(chars[j], 'X' | 'x' | 'Ｘ') {
            digits += 1;
            j += 1;
        }
        let span = &chars[i..j];
        if digits < 7 {
            out.extend(span);
        } else {
            let (head, tail) = if digits >= 11 { (3, 4) } else { (2, 2) };
            let mut seen = 0;
            for &c in span {
                if is_digit_char(c) || matches!(c, 'X' | 'x' | 'Ｘ') {
                    out.push(if seen < head || seen >= digits - tail {
                        c
                    } else {
                        '*'
                    });
                    seen += 1;
                } else {
                    out.push(c);
                }
            }
        }
        i = j;
    }
    out
}

/// Mask one value according to a field kind name (`person_name`, `id_number`, `phone`);
/// other kinds get [`text`] masking.
pub fn by_kind(kind: &str, value: &str) -> String {
    match kind {
        "person_name" => name(value),
        "id_number" => id_number(value),
        "phone" => phone(value),
        _ => text(value),
    }
}

/// Mask a JSON record in place: `{kind, value}` objects by their kind, keys named `name`,
/// `phone`, `id_number` by that key, every other string as free text, in which the
/// record's own names are masked too wherever they recur.
pub fn json(v: &mut Value) {
    let mut known = Vec::new();
    collect_names(v, &mut known);
    json_with(v, &known);
}

/// The names a record holds: `person_name` form fields and `name`-like keys.
fn collect_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if map.get("kind").and_then(Value::as_str) == Some("person_name") {
                if let Some(Value::String(s)) = map.get("value") {
                    out.push(s.clone());
                }
                return;
            }
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("name" | "resident_name" | "contact_name", Value::String(s)) => {
                        out.push(s.clone())
                    }
                    (_, child) => collect_names(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|c| collect_names(c, out)),
        _ => {}
    }
}

fn json_with(v: &mut Value, known: &[String]) {
    match v {
        Value::Object(map) => {
            // A form field `{name, label, kind, value}`: only the value is personal.
            if let (Some(kind), true) = (
                map.get("kind").and_then(Value::as_str).map(str::to_string),
                map.contains_key("value"),
            ) {
                if let Some(Value::String(s)) = map.get_mut("value") {
                    *s = match kind.as_str() {
                        "person_name" | "id_number" | "phone" => by_kind(&kind, s),
                        _ => text_with_names(s, known),
                    };
                }
                return;
            }
            // An owed material `{name, due}`: the name of a paper, not of a person.
            if map.contains_key("due") && !map.contains_key("phone") {
                return;
            }
            for (k, child) in map.iter_mut() {
                match (k.as_str(), child) {
                    // dates and times (a slot, a follow-up) are no one's phone number
                    (_, Value::String(s)) if is_timestamp(s) => {}
                    ("name" | "resident_name" | "contact_name", Value::String(s)) => *s = name(s),
                    ("phone" | "contact_phone", Value::String(s)) => *s = phone(s),
                    ("id_number", Value::String(s)) => *s = id_number(s),
                    // Machine fields stay readable.
                    (
                        "kind" | "label" | "form_id" | "form_title" | "service_id" | "number"
                        | "display_number" | "status" | "created_at" | "updated_at" | "due"
                        | "session_id" | "hash" | "prev_hash" | "payload_sha256",
                        _,
                    ) => {}
                    (_, child) => json_with(child, known),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| json_with(c, known)),
        Value::String(s) => *s = text_with_names(s, known),
        _ => {}
    }
}

/// An ISO date or date-time as records store them (`2026-12-08`, `2026-12-08T14:00:00`).
fn is_timestamp(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").is_ok()
        || chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_phones_are_masked_as_staff_expect() {
        assert_eq!(name("王小明"), "王*明");
        assert_eq!(name("王明"), "王*");
        assert_eq!(name("欧阳小明"), "欧**明");
        assert_eq!(id_number("110105194912310021"), "110***********0021");
        assert_eq!(phone("13812345678"), "138****5678");
    }

    #[test]
    fn free_text_hides_numbers_but_keeps_words() {
        let t = text("我的电话13812345678，身份证11010519491231002X，住3号楼502室");
        assert_eq!(
            t,
            "我的电话138****5678，身份证110***********002X，住3号楼502室"
        );
    }

    #[test]
    fn spoken_numbers_in_groups_are_masked() {
        let t = text("电话幺三八，幺二三四，五六七八");
        assert_eq!(t, "电话幺三八，****，五六七八");
        let t = text("身份证号 110105 19491231 002X");
        assert!(t.starts_with("身份证号 110") && t.ends_with("002X"), "{t}");
        assert!(!t.contains("19491231"), "{t}");
        // short numbers (rooms, counts, times) stay readable
        assert_eq!(
            text("3号楼502室，两个人，三点半"),
            "3号楼502室，两个人，三点半"
        );
    }

    #[test]
    fn names_in_free_text_are_masked() {
        let t = text("我叫王小明，想办居住登记");
        assert!(!t.contains("王小明") && t.contains("王*明"), "{t}");
        let t = text("孩子妈妈叫李芳");
        assert!(!t.contains("李芳"), "{t}");
        // a name the record holds is masked wherever it recurs, cue or not
        let t = text_with_names("王小明来了吗", &["王小明".to_string()]);
        assert_eq!(t, "王*明来了吗");
        // the words around stay
        assert!(text("我叫王小明，想办居住登记").contains("想办居住登记"));
    }

    #[test]
    fn transcripts_in_records_lose_the_records_names() {
        let mut v = serde_json::json!({
            "fields": [{"name": "applicant", "label": "姓名", "kind": "person_name", "value": "张玮"}],
            "transcript": [{"who": "resident", "text": "名字不对，是张玮"},
                           {"who": "xiaoan", "text": "好的，张玮。"}]
        });
        json(&mut v);
        let s = v.to_string();
        assert!(!s.contains("张玮"), "{s}");
    }

    #[test]
    fn json_records_are_masked_by_field_kind() {
        let mut v = serde_json::json!({
            "fields": [
                {"name": "mother_name", "label": "母亲姓名", "kind": "person_name", "value": "王小明"},
                {"name": "mother_id", "label": "母亲身份证号", "kind": "id_number", "value": "110105194912310021"},
                {"name": "address", "label": "住址", "kind": "address", "value": "3号楼502室"}
            ],
            "resident": {"name": "李四", "phone": "13912345678"},
            "what_happened": "他打我电话15012345678"
        });
        json(&mut v);
        let s = v.to_string();
        assert!(s.contains("王*明") && !s.contains("王小明"), "{s}");
        assert!(
            s.contains("110***********0021") && !s.contains("194912310"),
            "{s}"
        );
        assert!(s.contains("3号楼502室"), "{s}");
        assert!(
            s.contains("李*") && s.contains("139****5678") && s.contains("150****5678"),
            "{s}"
        );
        // field machine names are not names of people
        assert!(s.contains("mother_name"), "{s}");
    }

    #[test]
    fn staff_views_mask_personal_fields_only_not_papers_or_times() {
        let mut v = serde_json::json!({
            "materials_owed": [{"name": "相关原件核验", "due": "2026-12-10"}],
            "slot_start": "2026-12-08T14:00:00",
            "follow_up_due": "2026-12-08",
            "contact": {"name": "王小明", "phone": "13912345678"}
        });
        json(&mut v);
        let s = v.to_string();
        assert!(
            s.contains("相关原件核验") && s.contains("2026-12-10"),
            "{s}"
        );
        assert!(s.contains("2026-12-08T14:00:00"), "{s}");
        assert!(s.contains("\"follow_up_due\":\"2026-12-08\""), "{s}");
        assert!(s.contains("王*明") && s.contains("139****5678"), "{s}");
    }
}
