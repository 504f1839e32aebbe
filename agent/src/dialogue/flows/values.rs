//! What a resident's answer means for a field: a date as meant, an address said whole,
//! a name inside a sentence, a choice in other words; and the words that are never a
//! value (fillers, "跳过", a correction).

use xiaoan_intents::{EntityKind, Understanding};

use crate::forms::{FieldDef, FieldKind};

/// "Nothing to say" for an optional field: 没有, 还没起, 不知道, 跳过 ...
pub(super) fn is_skip(text: &str) -> bool {
    text.chars().count() <= 6
        && [
            "没有",
            "还没",
            "没起",
            "不知道",
            "不清楚",
            "不用",
            "跳过",
            "暂时没",
            "无",
            "冇",
            "莫得",
        ]
        .iter()
        .any(|w| text.contains(w))
}

/// Words that say an earlier answer was wrong (不对, 错了, 改成…).
pub(super) fn is_correction(text: &str) -> bool {
    [
        "不对",
        "错了",
        "说错",
        "改成",
        "改一下",
        "不是",
        "勿对",
        "唔啱",
        "唔係",
        "毋着",
        "莫对",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// A name said in a sentence the entity extractor did not catch ("孩子妈妈叫李芳",
/// "卖方是刘洋"): the words after the last 叫/是/姓名/名字.
pub(super) fn name_in(text: &str) -> Option<String> {
    let cut = ["叫做", "叫", "是", "姓名", "名字"]
        .iter()
        .filter_map(|m| text.rfind(m).map(|i| i + m.len()))
        .max()?;
    let rest: String = text[cut..]
        .chars()
        .filter(|c| !c.is_ascii_punctuation() && !"，。！？、 ".contains(*c))
        .collect();
    (!rest.is_empty()).then_some(rest)
}

/// The value a free-text or choice field takes from an answer.
pub(super) fn free_value(def: &FieldDef, u: &Understanding) -> String {
    if def.kind == FieldKind::PersonName {
        if let Some(n) = name_in(&u.normalized.text) {
            return n;
        }
    }
    if def.kind == FieldKind::Choice {
        let t = &u.normalized.text;
        for c in &def.choices {
            if t.contains(c.value.as_str()) || c.also.iter().any(|x| t.contains(x.as_str())) {
                return c.value.clone();
            }
        }
    }
    u.normalized.original.trim().to_string()
}

/// Fillers and commands that are never a field's value: the question is asked again.
pub(super) const FILLERS: &[&str] = &[
    "好的",
    "好",
    "嗯",
    "嗯嗯",
    "对",
    "对的",
    "是",
    "是的",
    "行",
    "可以",
    "我承诺",
    "承诺",
    "同意",
    "我同意",
    "等一下",
    "等等",
    "再说一遍",
    "再说一次",
    "还有几个问题",
    "什么",
    "啥",
    "啊",
    "哦",
    "喂",
    "你好",
    "谢谢",
    "知道了",
    "明白",
    "好了",
    "ok",
    "没问题",
    "好个",
    "对个",
    "係",
    "得",
    "要得",
    "中",
];

/// The words without punctuation or spaces.
pub(super) fn plain(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// A date as the resident means it: "上个月十五号", "这个月三号", and a day said without
/// a year ("十月一号") in the past when the field must be in the past.
pub(super) fn meant_date(
    u: &Understanding,
    today: chrono::NaiveDate,
    past: bool,
) -> Option<String> {
    use chrono::{Datelike, Months};
    let text = xiaoan_intents::numerals_to_digits(&u.normalized.text);
    let day_after = |key: &str| -> Option<u32> {
        let rest = &text[text.find(key)? + key.len()..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let n: u32 = digits.parse().ok()?;
        let after = &rest[digits.len()..];
        (after.starts_with('号') || after.starts_with('日')).then_some(n)
    };
    for (key, back) in [("上个月", 1u32), ("上月", 1), ("这个月", 0), ("本月", 0)] {
        if let Some(d) = day_after(key) {
            let month = today.checked_sub_months(Months::new(back))?;
            return chrono::NaiveDate::from_ymd_opt(month.year(), month.month(), d)
                .map(|d| d.format("%Y-%m-%d").to_string());
        }
    }
    let e = u.entities.iter().find(|e| e.kind == EntityKind::Date)?;
    let d = chrono::NaiveDate::parse_from_str(&e.value, "%Y-%m-%d").ok()?;
    if past && d > today && !u.normalized.original.contains('年') {
        let earlier = d.with_year(d.year() - 1)?;
        if earlier <= today {
            return Some(earlier.format("%Y-%m-%d").to_string());
        }
    }
    None
}

/// An address said whole ("我住在幸福路8号3号楼502室"): the whole of it, not only the
/// building and room the extractor found.
pub(super) fn whole_address(u: &Understanding, found: &str) -> Option<String> {
    const LEADS: &[&str] = &[
        "我现在住在",
        "我住在",
        "现在住在",
        "住在",
        "我家在",
        "家在",
        "地址是",
        "在",
    ];
    let t: String = without_lead(u.normalized.original.trim(), LEADS)
        .trim_matches(|c: char| "。，,.！!？? ".contains(c))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    (t.len() > found.len() && t.contains(found) && !t.contains('，') && !t.contains(','))
        .then_some(t)
}

/// `text` without the first of `leads` it starts with: the words said before a value
/// ("我住在", "就在").
pub(super) fn without_lead<'a>(text: &'a str, leads: &[&str]) -> &'a str {
    leads
        .iter()
        .find_map(|lead| text.strip_prefix(lead))
        .unwrap_or(text)
}
