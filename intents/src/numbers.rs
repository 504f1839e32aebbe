//! Chinese numerals and spoken digits → Arabic digits.
//!
//! A run of numeral characters (零〇洞一幺二两三…九十百千万 and ASCII digits) is converted
//! when it is clearly a number: two or more numerals (五零二, 十二, 一千五, 幺三八…), or a
//! single numeral next to a unit (三号楼, 两个, 下周三, 三点). Words such as 一下, 一起,
//! 慢一点, 万一 are left alone. Runs without 十百千万 are read digit by digit (spoken
//! phone and ID numbers); runs with them are read as a value (两百 → 200, 一千五 → 1500).

/// The digit value of a numeral character, if any.
fn digit(c: char) -> Option<u64> {
    Some(match c {
        '0'..='9' => c as u64 - '0' as u64,
        '零' | '〇' | '洞' => 0,
        '一' | '幺' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn multiplier(c: char) -> Option<u64> {
    Some(match c {
        '十' => 10,
        '百' => 100,
        '千' => 1000,
        '万' => 10_000,
        _ => return None,
    })
}

fn is_numeral(c: char) -> bool {
    digit(c).is_some() || multiplier(c).is_some()
}

/// Units that make a single numeral a number (三号, 两个, 五楼).
const UNITS: &str = "号楼室层栋幢单元个位块元毛角岁月日天年次张份点人口间套户本周星期礼拜岁遍回";

/// Characters before a single numeral that make it a number (第三, 周三, 礼拜三).
const BEFORE: &str = "第周期拜点块";

/// Converts the numeral runs of `text` (already Simplified, half width).
pub fn convert(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_numeral(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && is_numeral(chars[j]) {
            j += 1;
        }
        // Leading 百千万 without a digit before them are words (千万, 万一), not numbers.
        let mut start = i;
        while start < j && matches!(chars[start], '百' | '千' | '万') {
            out.push(chars[start]);
            start += 1;
        }
        let run = &chars[start..j];
        if !run.is_empty() && should_convert(&chars, start, j) {
            out.push_str(&value(run));
        } else {
            out.extend(run.iter());
        }
        i = j;
    }
    out
}

fn should_convert(chars: &[char], start: usize, end: usize) -> bool {
    let run = &chars[start..end];
    // 洞 and 幺 on their own are words (a hole, 吆); digits need company.
    if run.iter().all(|c| matches!(c, '洞' | '幺')) && run.len() < 3 {
        return false;
    }
    if run.iter().all(|c| c.is_ascii_digit()) {
        return true;
    }
    if run.len() >= 2 {
        return true;
    }
    let c = run[0];
    let prev = if start > 0 {
        Some(chars[start - 1])
    } else {
        None
    };
    let next = chars.get(end).copied();
    let next2 = chars.get(end + 1).copied();
    if next == Some('刻') {
        return false;
    }
    if prev.is_some_and(|p| BEFORE.contains(p)) {
        return true;
    }
    match next {
        Some('点') if c == '一' => {
            // 慢一点 / 快一点 are "a bit"; 下午一点, 一点半, 一点钟 are times.
            let time_before = start >= 1 && matches!(chars[start - 1], '午' | '晨' | '晚')
                || start >= 2
                    && matches!(chars[start - 2], '早' | '晚')
                    && chars[start - 1] == '上';
            time_before || next2.is_some_and(|n| n == '半' || n == '钟' || is_numeral(n))
        }
        Some('分') => prev == Some('点'),
        Some(n) => UNITS.contains(n) && !(c == '一' && matches!(n, '点' | '下' | '起')),
        None => false,
    }
}

/// The Arabic form of a numeral run.
fn value(run: &[char]) -> String {
    if !run.iter().any(|&c| multiplier(c).is_some()) {
        return run
            .iter()
            .filter_map(|&c| digit(c))
            .map(|d| char::from(b'0' + d as u8))
            .collect();
    }
    let mut total: u64 = 0;
    let mut section: u64 = 0;
    let mut cur: Option<u64> = None;
    let mut last_mult: Option<u64> = None;
    let mut zero_seen = false;
    for &c in run {
        if let Some(d) = digit(c) {
            if d == 0 && !c.is_ascii_digit() {
                zero_seen = true;
                if let Some(v) = cur.take() {
                    section = section.saturating_add(v);
                }
                continue;
            }
            cur = Some(match cur {
                Some(v) if c.is_ascii_digit() => v.saturating_mul(10).saturating_add(d),
                _ => d,
            });
        } else if let Some(m) = multiplier(c) {
            if m == 10_000 {
                section = section.saturating_add(cur.take().unwrap_or(0));
                if section == 0 {
                    section = 1;
                }
                total = total.saturating_add(section.saturating_mul(m));
                section = 0;
            } else {
                section = section.saturating_add(cur.take().unwrap_or(1).saturating_mul(m));
            }
            last_mult = Some(m);
            zero_seen = false;
        }
    }
    if let Some(v) = cur {
        // 一千五 = 1500, 三万五 = 35000: a lone last digit counts in the next lower unit.
        match last_mult {
            Some(m) if m >= 100 && v < 10 && !zero_seen => {
                section = section.saturating_add(v.saturating_mul(m / 10))
            }
            _ => section = section.saturating_add(v),
        }
    }
    total.saturating_add(section).to_string()
}

#[cfg(test)]
mod tests {
    use super::convert;

    #[test]
    fn spoken_numbers_become_digits() {
        for (a, b) in [
            ("三号楼五零二", "3号楼502"),
            ("两百块", "200块"),
            ("一千五百元", "1500元"),
            ("一千五", "1500"),
            ("十二", "12"),
            ("二十号", "20号"),
            ("一百零五", "105"),
            ("三万五", "35000"),
            ("幺三八幺二三四五六七八", "13812345678"),
            ("下周三下午", "下周3下午"),
            ("三点半", "3点半"),
            ("下午一点", "下午1点"),
            ("两个人", "2个人"),
            ("三块五", "3块5"),
            ("八点一刻", "8点一刻"),
            ("洞洞七", "007"),
        ] {
            assert_eq!(convert(a), b, "{a}");
        }
    }

    #[test]
    fn number_words_stay_words() {
        for a in [
            "说慢一点",
            "等一下",
            "一起去",
            "万一",
            "千万别",
            "墙上有个洞",
            "一样",
        ] {
            assert_eq!(convert(a), a);
        }
    }
}
