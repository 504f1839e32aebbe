//! Answers for the ear: first answer, detail chunks, speakable text.
//!
//! A resident who cannot see the screen hears the summary first, then chooses to hear
//! details in small chunks (materials, steps, where and when, commitment terms). Each
//! chunk stands alone so it can be repeated, and ends with an offer of the next one.

use crate::guide::Item;

/// Which detail a chunk carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ChunkKind {
    /// What to bring.
    Materials,
    /// How it goes.
    Steps,
    /// Where and when, how long, how much.
    WhereWhen,
    /// 承诺制 / 容缺受理 terms and what may be supplied later.
    Commitment,
}

/// A short spoken chunk of details.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Chunk {
    /// Which detail.
    pub kind: ChunkKind,
    /// Text for the ear, already [`speakable`].
    pub text: String,
    /// Offer of the next chunk ("要听办理步骤吗？"); empty for the last one.
    pub offer: String,
}

/// Offer made after the first answer.
pub const FIRST_OFFER: &str = "要听需要带的材料吗？";

const ORDINALS: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

fn strip_end(s: &str) -> &str {
    s.trim().trim_end_matches(['。', '；', '，', '.', ';', ','])
}

impl Item {
    /// The spoken summary followed by an offer of details.
    pub fn first_answer(&self) -> String {
        let summary = speakable(self.summary.trim());
        let sep = if summary.ends_with(['。', '！', '？']) {
            ""
        } else {
            "。"
        };
        format!("{summary}{sep}{FIRST_OFFER}")
    }

    /// Detail chunks in the order they are offered: materials, steps, where and when,
    /// then the commitment terms when 承诺制 / 容缺受理 applies.
    pub fn chunks(&self) -> Vec<Chunk> {
        let mut out = Vec::with_capacity(4);
        let materials: Vec<&str> = self.materials.iter().map(|m| strip_end(m)).collect();
        out.push((
            ChunkKind::Materials,
            format!(
                "需要带这{}样：{}。",
                count_word(materials.len()),
                materials.join("；")
            ),
        ));
        let steps: Vec<String> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| match ORDINALS.get(i) {
                Some(o) => format!("第{o}，{}", strip_end(s)),
                None => strip_end(s).to_string(),
            })
            .collect();
        out.push((
            ChunkKind::Steps,
            format!("办理步骤：{}。", steps.join("；")),
        ));
        let mut where_when = format!(
            "在{}，{}办理。时间是{}。{}，{}。",
            strip_end(&self.location.zone),
            strip_end(&self.location.window),
            strip_end(&self.hours),
            strip_end(&self.processing_time),
            strip_end(&self.fee)
        );
        let grid = strip_end(&self.location.grid_station);
        if !grid.is_empty() && grid != "不适用" {
            where_when.push_str(&format!("另外，{grid}。"));
        }
        out.push((ChunkKind::WhereWhen, where_when));
        if let Some(c) = &self.commitment {
            let later: Vec<&str> = c.later.iter().map(|m| strip_end(m)).collect();
            let mut text = format!("这件事可以{}。{}", strip_end(&c.kind), c.terms.trim());
            if !text.ends_with(['。', '！', '？']) {
                text.push('。');
            }
            if !later.is_empty() {
                text.push_str(&format!("可以后补的有：{}，", later.join("、")));
                text.push_str(&format!("{}。", strip_end(&c.deadline)));
            }
            out.push((ChunkKind::Commitment, text));
        }
        let n = out.len();
        let kinds: Vec<ChunkKind> = out.iter().map(|(k, _)| *k).collect();
        let commitment_kind = self
            .commitment
            .as_ref()
            .map(|c| strip_end(&c.kind).to_string());
        out.into_iter()
            .enumerate()
            .map(|(i, (kind, text))| {
                let offer = if i + 1 < n {
                    match kinds[i + 1] {
                        ChunkKind::Steps => "要听办理步骤吗？".to_string(),
                        ChunkKind::WhereWhen => "要听在哪里办、什么时间办吗？".to_string(),
                        ChunkKind::Commitment => format!(
                            "要听{}怎么办吗？",
                            commitment_kind.as_deref().unwrap_or("承诺制")
                        ),
                        ChunkKind::Materials => FIRST_OFFER.to_string(),
                    }
                } else {
                    String::new()
                };
                Chunk {
                    kind,
                    text: speakable(&text),
                    offer,
                }
            })
            .collect()
    }
}

fn count_word(n: usize) -> String {
    match n {
        2 => "两".to_string(),
        _ => int_to_chinese(n as u64),
    }
}

const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
/// Digits as read in phone numbers: 1 is 幺 so it is not heard as 七.
const PHONE_DIGITS: [&str; 10] = ["零", "幺", "二", "三", "四", "五", "六", "七", "八", "九"];
/// Three-digit service numbers read digit by digit.
const SERVICE_NUMBERS: &[&str] = &["110", "119", "120", "122", "114", "995"];
/// Measure words after which 2 is read 两.
const MEASURES: &[char] = &[
    '个', '张', '份', '位', '次', '天', '人', '寸', '元', '块', '本', '项', '类', '种', '件', '名',
    '周', '年', '岁', '层', '栋', '间', '小', '分', '条', '只', '户', '套',
];

/// Chinese reading of a non-negative integer below 10^12 (十五, 一百零五, 两千 is not used).
pub(crate) fn int_to_chinese(n: u64) -> String {
    if n == 0 {
        return "零".to_string();
    }
    fn below_10k(n: u64, out: &mut String, leading: bool) {
        let units = ["千", "百", "十", ""];
        let ds = [n / 1000, n / 100 % 10, n / 10 % 10, n % 10];
        let mut zero = false;
        let mut started = false;
        for (i, d) in ds.iter().enumerate() {
            if *d == 0 {
                if started {
                    zero = true;
                }
                continue;
            }
            if zero || (!started && !leading && i > 0) {
                out.push('零');
            }
            zero = false;
            // 十五 rather than 一十五 at the very start of a number.
            if !(leading && !started && i == 2 && *d == 1) {
                out.push_str(DIGITS[*d as usize]);
            }
            out.push_str(units[i]);
            started = true;
        }
    }
    let mut out = String::new();
    let groups = [
        (n / 100_000_000, "亿"),
        (n / 10_000 % 10_000, "万"),
        (n % 10_000, ""),
    ];
    let mut leading = true;
    let mut pending_zero = false;
    for (g, unit) in groups {
        if g == 0 {
            if !leading {
                pending_zero = true;
            }
            continue;
        }
        if pending_zero {
            out.push('零');
            pending_zero = false;
        }
        below_10k(g, &mut out, leading);
        out.push_str(unit);
        leading = false;
    }
    // 两百, 两千, 两万 are what people say; 二十 stays.
    if n >= 100 && out.starts_with('二') && !out.starts_with("二十") {
        out.replace_range(..'二'.len_utf8(), "两");
    }
    out
}

fn digits_aloud(d: &str, table: &[&str; 10]) -> String {
    d.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|v| table[v as usize])
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Period {
    Morning,
    Noon,
    Afternoon,
    Evening,
}

impl Period {
    fn word(self) -> &'static str {
        match self {
            Period::Morning => "上午",
            Period::Noon => "中午",
            Period::Afternoon => "下午",
            Period::Evening => "晚上",
        }
    }
}

fn explicit_period(before: &str) -> Option<Period> {
    let tail: String = before
        .chars()
        .rev()
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    match tail.as_str() {
        "上午" | "早上" | "早晨" | "凌晨" => Some(Period::Morning),
        "中午" => Some(Period::Noon),
        "下午" => Some(Period::Afternoon),
        "晚上" | "傍晚" | "夜里" => Some(Period::Evening),
        _ => None,
    }
}

/// One clock time, e.g. "13:30" → "下午一点半"; `last` is the period said just before.
fn time_aloud(h: u32, m: u32, out: &str, last: &mut Option<Period>) -> String {
    let explicit = explicit_period(out);
    let natural = match h {
        0..=11 => Period::Morning,
        12 => Period::Noon,
        13..=18 => Period::Afternoon,
        _ => Period::Evening,
    };
    let in_range = out.ends_with('到') || out.ends_with('至');
    let (prefix, period) = match explicit {
        Some(p) => ("", p),
        None if natural == Period::Morning => ("", natural),
        None if in_range && *last == Some(natural) => ("", natural),
        None => (natural.word(), natural),
    };
    *last = Some(period);
    let h12 = if h > 12 { h - 12 } else { h };
    let hour = if h12 == 2 {
        "两".to_string()
    } else {
        int_to_chinese(h12 as u64)
    };
    let minutes = match m {
        0 => String::new(),
        30 => "半".to_string(),
        1..=9 => format!("零{}分", DIGITS[m as usize]),
        _ => format!("{}分", int_to_chinese(m as u64)),
    };
    format!("{prefix}{hour}点{minutes}")
}

/// Rewrites numbers, times and window names the way they should be spoken:
/// "8:30" → "八点半", "13:30-18:00" → "下午一点半到六点", "3号窗口" → "三号窗口",
/// "2张" → "两张", phone-like numbers ("12345", "0571-8888 6000") and 110/119/120
/// digit by digit (1 read 幺), "2024年" → "二零二四年", "50%" → "百分之五十".
pub fn speakable(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut last_period = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_ascii_digit() {
            out.push(c);
            i += 1;
            continue;
        }
        // Maximal run of digits and number punctuation that ends on a digit.
        let mut j = i;
        let mut end = i;
        while j < chars.len() && matches!(chars[j], '0'..='9' | ':' | '：' | '.' | '-' | ' ' | '~')
        {
            if chars[j].is_ascii_digit() {
                end = j + 1;
            }
            j += 1;
        }
        let raw: String = chars[i..end].iter().collect();
        let next = chars.get(end).copied();
        let said = number_aloud(&raw, next, &out, &mut last_period);
        out.push_str(&said);
        i = if next == Some('%') { end + 1 } else { end };
    }
    out
}

fn number_aloud(raw: &str, next: Option<char>, before: &str, last: &mut Option<Period>) -> String {
    let raw_norm = raw.replace('：', ":");
    if raw_norm.contains(':') {
        let mut said = String::new();
        let parts: Vec<&str> = raw_norm.split(['-', '~']).collect();
        for (k, part) in parts.iter().enumerate() {
            let part = part.trim();
            let mut hm = part.splitn(2, ':');
            let h = hm.next().and_then(|h| h.trim().parse::<u32>().ok());
            let m = hm.next().and_then(|m| m.trim().parse::<u32>().ok());
            let piece = match (h, m) {
                (Some(h), Some(m)) if h < 24 && m < 60 => {
                    let mut ctx = before.to_string();
                    ctx.push_str(&said);
                    time_aloud(h, m, &ctx, last)
                }
                _ => digits_aloud(part, &DIGITS),
            };
            said.push_str(&piece);
            if k + 1 < parts.len() {
                said.push('到');
            }
        }
        return said;
    }
    let pieces: Vec<&str> = raw_norm
        .split(['-', ' ', '~'])
        .filter(|p| !p.is_empty())
        .collect();
    let total_digits: usize = raw_norm.chars().filter(|c| c.is_ascii_digit()).count();
    if pieces.len() > 1 {
        if total_digits >= 5 {
            return pieces
                .iter()
                .map(|p| digits_aloud(p, &PHONE_DIGITS))
                .collect::<Vec<_>>()
                .join("，");
        }
        // A short range "5-20" → "五到二十".
        return pieces
            .iter()
            .map(|p| plain_number(p, None))
            .collect::<Vec<_>>()
            .join("到");
    }
    plain_number(&raw_norm, next)
}

fn plain_number(raw: &str, next: Option<char>) -> String {
    if let Some((int, frac)) = raw.split_once('.') {
        return format!(
            "{}点{}",
            plain_number(int, None),
            digits_aloud(frac, &DIGITS)
        );
    }
    let next_is_measure = next.is_some_and(|n| MEASURES.contains(&n));
    if next == Some('年') && raw.len() == 4 {
        return digits_aloud(raw, &DIGITS);
    }
    if next == Some('%') {
        return format!("百分之{}", plain_number(raw, None));
    }
    if raw.len() >= 5 || (SERVICE_NUMBERS.contains(&raw) && !next_is_measure) {
        return digits_aloud(raw, &PHONE_DIGITS);
    }
    if raw.len() > 1 && raw.starts_with('0') {
        return digits_aloud(raw, &DIGITS);
    }
    match raw.parse::<u64>() {
        Ok(2) if next_is_measure => "两".to_string(),
        Ok(n) => int_to_chinese(n),
        Err(_) => digits_aloud(raw, &DIGITS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guide::Guide;

    fn item(id: &str) -> Item {
        match Guide::builtin().map(|g| g.item(id).cloned()) {
            Ok(Some(i)) => i,
            other => panic!("{id}: {other:?}"),
        }
    }

    #[test]
    fn first_answer_is_summary_then_offer() {
        let it = item("senior-card");
        let a = it.first_answer();
        assert!(a.ends_with(FIRST_OFFER), "{a}");
        assert!(a.contains("八号窗口"), "{a}");
        assert!(!a.chars().any(|c| c.is_ascii_digit()), "{a}");
    }

    #[test]
    fn chunks_come_in_order_and_offer_the_next() {
        let it = item("property-transfer");
        let c = it.chunks();
        let kinds: Vec<ChunkKind> = c.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            vec![
                ChunkKind::Materials,
                ChunkKind::Steps,
                ChunkKind::WhereWhen,
                ChunkKind::Commitment
            ]
        );
        assert_eq!(c[0].offer, "要听办理步骤吗？");
        assert!(c[3].offer.is_empty());
        assert!(c[2].offer.contains("容缺受理"));
        assert!(c[3].text.contains("婚姻状况证明"), "{}", c[3].text);
        assert!(c[1].text.contains("第一") && c[1].text.contains("第二"));
        for ch in &c {
            assert!(!ch.text.chars().any(|c| c.is_ascii_digit()), "{}", ch.text);
        }
        let plain = item("dog-registration").chunks();
        assert_eq!(plain.len(), 3);
        assert!(plain[2].offer.is_empty());
        assert!(plain[2].text.contains("十一号窗口"), "{}", plain[2].text);
    }

    #[test]
    fn times_read_as_clock_times() {
        assert_eq!(speakable("8:30"), "八点半");
        assert_eq!(speakable("上午8:30到12:00"), "上午八点半到中午十二点");
        assert_eq!(speakable("下午13:30到18:00"), "下午一点半到六点");
        assert_eq!(
            speakable("9:00到11:30，14:00到17:00"),
            "九点到十一点半，下午两点到五点"
        );
        assert_eq!(speakable("8:30-17:05"), "八点半到下午五点零五分");
    }

    #[test]
    fn windows_counts_and_phones() {
        assert_eq!(speakable("3号窗口"), "三号窗口");
        assert_eq!(speakable("12号窗口"), "十二号窗口");
        assert_eq!(speakable("照片2张"), "照片两张");
        assert_eq!(speakable("打12345"), "打幺二三四五");
        assert_eq!(speakable("先打120"), "先打幺二零");
        assert_eq!(speakable("0571-8888 6000"), "零五七幺，八八八八，六零零零");
        assert_eq!(speakable("15个工作日"), "十五个工作日");
        assert_eq!(speakable("登记费80元"), "登记费八十元");
        assert_eq!(speakable("2024年"), "二零二四年");
        assert_eq!(speakable("满意度50%"), "满意度百分之五十");
    }

    #[test]
    fn integers_read_naturally() {
        assert_eq!(int_to_chinese(10), "十");
        assert_eq!(int_to_chinese(105), "一百零五");
        assert_eq!(int_to_chinese(1010), "一千零一十");
        assert_eq!(int_to_chinese(20000), "两万");
        assert_eq!(int_to_chinese(20), "二十");
        assert_eq!(int_to_chinese(100_005), "十万零五");
    }

    proptest::proptest! {
        #[test]
        fn speakable_leaves_no_digits_and_keeps_other_text(s in "[0-9:：. 号窗口到张个年%-]{0,24}") {
            let out = speakable(&s);
            proptest::prop_assert!(!out.chars().any(|c| c.is_ascii_digit()), "{} -> {}", s, out);
            let kept = |t: &str| t.chars().filter(|c| matches!(c, '号' | '窗' | '口' | '张' | '个' | '年')).count();
            proptest::prop_assert!(kept(&out) >= kept(&s), "{} -> {}", s, out);
        }

        #[test]
        fn numbers_below_a_million_read_back(n in 0u64..1_000_000) {
            let zh = int_to_chinese(n);
            proptest::prop_assert!(!zh.is_empty());
            proptest::prop_assert_eq!(chinese_to_int(&zh), n, "{}", zh);
        }
    }

    /// Reads a Chinese numeral back (test helper for the round trip).
    fn chinese_to_int(s: &str) -> u64 {
        let mut total = 0u64;
        let mut section = 0u64;
        let mut digit = 0u64;
        for c in s.chars() {
            match c {
                '零' => digit = 0,
                '一' => digit = 1,
                '二' | '两' => digit = 2,
                '三' => digit = 3,
                '四' => digit = 4,
                '五' => digit = 5,
                '六' => digit = 6,
                '七' => digit = 7,
                '八' => digit = 8,
                '九' => digit = 9,
                '十' | '百' | '千' => {
                    let unit = match c {
                        '十' => 10,
                        '百' => 100,
                        _ => 1000,
                    };
                    section += if digit == 0 && c == '十' { 1 } else { digit } * unit;
                    digit = 0;
                }
                '万' | '亿' => {
                    let unit = if c == '万' { 10_000 } else { 100_000_000 };
                    total += (section + digit) * unit;
                    section = 0;
                    digit = 0;
                }
                _ => {}
            }
        }
        total + section + digit
    }
}
