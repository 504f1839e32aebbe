//! Masking of personal data for logs and default staff views.
//!
//! Names keep the first and last character (`王*明`), ID numbers the first 3 and last 4
//! (`110***********1234`), phone numbers the first 3 and last 4 (`138****5678`). Free text
//! (what a resident said) has runs of digits that look like phone or ID numbers masked;
//! names inside free text cannot be found reliably and are not masked.

use serde_json::Value;

/// Mask a person's name: `王小明` → `王*明`, `王明` → `王*`, `欧阳小明` → `欧**明`.
pub fn name(s: &str) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_string(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// Keep `head` leading and `tail` trailing characters, star the rest; very short values
/// are fully starred.
fn keep_ends(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    let n = chars.len();
    if n <= head + tail {
        return "*".repeat(n);
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

/// Mask an ID number: `110105194912310021` → `110***********0021`.
pub fn id_number(s: &str) -> String {
    keep_ends(s, 3, 4)
}

/// Mask a phone number: `13812345678` → `138****5678`.
pub fn phone(s: &str) -> String {
    keep_ends(s, 3, 4)
}

/// Mask phone- and ID-like digit runs inside free text.
pub fn text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            // An ID number may end in X.
            if j - i == 17 && j < chars.len() && (chars[j] == 'X' || chars[j] == 'x') {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let len = j - i;
            if len == 18 {
                out.push_str(&id_number(&run));
            } else if len == 11 && run.starts_with('1') {
                out.push_str(&phone(&run));
            } else if len >= 7 {
                out.push_str(&keep_ends(&run, 2, 2));
            } else {
                out.push_str(&run);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
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
/// `phone`, `id_number` by that key, every other string as free text.
pub fn json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            // A form field `{name, label, kind, value}`: only the value is personal.
            if let (Some(kind), true) = (
                map.get("kind").and_then(Value::as_str).map(str::to_string),
                map.contains_key("value"),
            ) {
                if let Some(Value::String(s)) = map.get_mut("value") {
                    *s = by_kind(&kind, s);
                }
                return;
            }
            for (k, child) in map.iter_mut() {
                match (k.as_str(), child) {
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
                    (_, child) => json(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::String(s) => *s = text(s),
        _ => {}
    }
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
}
