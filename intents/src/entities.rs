//! Entities: names, resident ID numbers, mobile numbers, dates, times, addresses, money,
//! counts — read from normalised text, where spoken numbers are already digits
//! (幺三八… → 138…, 三号楼五零二 → 3号楼502, 两百块 → 200块).

use std::sync::OnceLock;

use chrono::{Datelike, Duration, NaiveDate};
use regex::Regex;

use crate::Normalized;

/// The kinds of entity the dialogue can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A person's name (王小明).
    PersonName,
    /// An 18-character resident ID number with a valid GB 11643 check digit.
    IdNumber,
    /// An 11-digit mainland mobile number.
    Phone,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A time of day, `HH:MM`.
    Time,
    /// A building/room address (`3号楼502室`).
    Address,
    /// An amount of money in yuan.
    Money,
    /// A count of people or things.
    Count,
}

/// One entity found in an utterance.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Entity {
    /// What it is.
    pub kind: EntityKind,
    /// Canonical value: ID digits (`X` upper case), phone digits, date `YYYY-MM-DD`,
    /// time `HH:MM` (a bare part of day gets a default hour: 上午 09:00, 中午 12:00,
    /// 下午 14:00, 晚上 19:00), `3号楼502室`, amount in yuan, count as digits, the name.
    pub value: String,
    /// The normalised text it was read from.
    pub text: String,
}

/// GB 11643 check: 17 digits then a check character (digit or `X`).
pub fn id_number_valid(id: &str) -> bool {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let c: Vec<char> = id.chars().collect();
    if c.len() != 18 {
        return false;
    }
    let mut sum = 0u32;
    for (i, w) in W.iter().enumerate() {
        match c[i].to_digit(10) {
            Some(d) => sum += d * w,
            None => return false,
        }
    }
    c[17].to_ascii_uppercase() == CHECK[(sum % 11) as usize]
}

/// Masks an ID number for logs: first 3 and last 4 characters kept (`110***********1234`).
pub fn mask_id(id: &str) -> String {
    mask_middle(id, 3, 4)
}

/// Masks a phone number for logs: first 3 and last 4 digits kept (`138****5678`).
pub fn mask_phone(p: &str) -> String {
    mask_middle(p, 3, 4)
}

/// Masks a name for logs: `王*明`, `王*` for two characters.
pub fn mask_name(n: &str) -> String {
    let c: Vec<char> = n.chars().collect();
    match c.len() {
        0 => String::new(),
        1 => "*".to_string(),
        2 => format!("{}*", c[0]),
        k => format!("{}{}{}", c[0], "*".repeat(k - 2), c[k - 1]),
    }
}

fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let c: Vec<char> = s.chars().collect();
    if c.len() <= head + tail {
        return "*".repeat(c.len());
    }
    let mut out: String = c[..head].iter().collect();
    out.push_str(&"*".repeat(c.len() - head - tail));
    out.extend(c[c.len() - tail..].iter());
    out
}

struct Patterns {
    digits: Regex,
    address: Regex,
    room: Regex,
    street: Regex,
    money: Regex,
    count: Regex,
    ymd: Regex,
    md: Regex,
    iso: Regex,
    weekday: Regex,
    clock: Regex,
    colon: Regex,
    name: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static P: OnceLock<Option<Patterns>> = OnceLock::new();
    P.get_or_init(|| {
        Some(Patterns {
            digits: Regex::new(r"\d+(?:x|叉|艾克斯)?").ok()?,
            address: Regex::new(r"(\d{1,3})(?:号楼|栋|幢|号院|座)(?:(\d{1,2})单元)?(?:(\d{3,4})(?:室|号)?)?").ok()?,
            room: Regex::new(r"(\d{3,4})室").ok()?,
            street: Regex::new(r"\p{Han}{1,6}(?:路|街|巷|弄|村)\d{1,4}号").ok()?,
            money: Regex::new(r"(\d+(?:\.\d+)?)(万)?(?:块钱|块|元|圆|蚊)(?:(\d)(?:毛|角)?)?").ok()?,
            count: Regex::new(r"(\d{1,4})(?:个人|口人|位|个|人|次|张|份|本|件)").ok()?,
            ymd: Regex::new(r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]?").ok()?,
            md: Regex::new(r"(\d{1,2})月(\d{1,2})[日号]").ok()?,
            iso: Regex::new(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})").ok()?,
            weekday: Regex::new(r"(下下|下个|下|这个|这|本|上个|上)?(?:周|星期|礼拜)([1-7日天])").ok()?,
            clock: Regex::new(r"(\d{1,2})点(?:钟)?(半|一刻|三刻|(\d{1,2})分?)?").ok()?,
            colon: Regex::new(r"(\d{1,2}):(\d{2})").ok()?,
            name: Regex::new(r"(?:我叫|我的名字是|我名字是|名字是|名字叫|姓名是|姓名|叫做|喊做|我系|他叫|她叫|老人叫|孩子叫|不对是|错了是|应该是|改成)(\p{Han}{2,4})").ok()?,
        })
    })
    .as_ref()
}

/// Common surnames (single and compound): a name must start with one.
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝";
/// The most common surnames that are rarely the first character of an ordinary word: a bare
/// three-character answer starting with one of them is read as a name.
const BARE_SURNAMES: &str = "王李张刘陈杨黄赵吴徐孙朱胡郭林罗郑梁谢宋唐许韩冯邓曹彭曾肖董袁潘蒋蔡杜叶苏魏吕沈姚卢姜崔钟谭陆汪廖贾";
const COMPOUND_SURNAMES: [&str; 8] = [
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙",
];
/// Characters that end a name (the next word begins).
const NAME_STOP: &str = "我你他她的是要想在今电手身号住家年岁了吗呢啊吧和跟话证办后就也还又都";

fn trim_name(raw: &str) -> Option<String> {
    let chars: Vec<char> = raw.chars().collect();
    let compound = COMPOUND_SURNAMES.iter().any(|c| raw.starts_with(c));
    if !compound && !chars.first().is_some_and(|c| SURNAMES.contains(*c)) {
        return None;
    }
    let max = if compound { 4 } else { 3 };
    let mut name = String::new();
    for (i, c) in chars.iter().enumerate() {
        if i >= max || (i >= 1 && !compound && NAME_STOP.contains(*c)) {
            break;
        }
        name.push(*c);
    }
    (name.chars().count() >= 2).then_some(name)
}

fn date_ok(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Part-of-day words, their default hour, and whether clock hours after them are p.m.
const PARTS_OF_DAY: [(&str, u32, bool); 10] = [
    ("凌晨", 5, false),
    ("早上", 8, false),
    ("早晨", 8, false),
    ("上午", 9, false),
    ("中午", 12, true),
    ("下午", 14, true),
    ("傍晚", 18, true),
    ("晚上", 19, true),
    ("夜里", 21, true),
    ("今晚", 19, true),
];

/// Finds the entities of a normalised utterance; relative dates resolve against `today`.
pub fn extract_entities(normalized: &Normalized, today: NaiveDate) -> Vec<Entity> {
    let Some(p) = patterns() else {
        return Vec::new();
    };
    let text = normalized.text.as_str();
    let mut out: Vec<Entity> = Vec::new();
    // Byte ranges already used, so a phone number is not also a count.
    let mut used: Vec<(usize, usize)> = Vec::new();
    let free = |used: &Vec<(usize, usize)>, s: usize, e: usize| {
        used.iter().all(|&(a, b)| e <= a || s >= b)
    };
    let push = |out: &mut Vec<Entity>, kind, value: String, t: &str| {
        out.push(Entity {
            kind,
            value,
            text: t.to_string(),
        })
    };

    // ID numbers and phones: digit runs.
    for m in p.digits.find_iter(text) {
        let s = m.as_str();
        let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
        let check_x = !s.chars().last().is_some_and(|c| c.is_ascii_digit());
        if check_x && digits.len() == 17 {
            let id = format!("{digits}X");
            if id_number_valid(&id) {
                push(&mut out, EntityKind::IdNumber, id, s);
                used.push((m.start(), m.end()));
            }
        } else if digits.len() == 18 && id_number_valid(&digits) {
            push(&mut out, EntityKind::IdNumber, digits, s);
            used.push((m.start(), m.end()));
        } else {
            let phone = digits
                .strip_prefix("86")
                .filter(|d| d.len() == 11)
                .unwrap_or(&digits);
            let b: Vec<u8> = phone.bytes().collect();
            if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
                push(&mut out, EntityKind::Phone, phone.to_string(), s);
                used.push((m.start(), m.end()));
            }
        }
    }

    // Addresses.
    for c in p.address.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        if !free(&used, m.start(), m.end()) {
            continue;
        }
        let mut v = format!("{}号楼", &c[1]);
        if let Some(u) = c.get(2) {
            v.push_str(&format!("{}单元", u.as_str()));
        }
        if let Some(r) = c.get(3) {
            v.push_str(&format!("{}室", r.as_str()));
        }
        push(&mut out, EntityKind::Address, v, m.as_str());
        used.push((m.start(), m.end()));
    }
    for m in p.street.find_iter(text) {
        if free(&used, m.start(), m.end()) {
            push(
                &mut out,
                EntityKind::Address,
                m.as_str().to_string(),
                m.as_str(),
            );
            used.push((m.start(), m.end()));
        }
    }
    for c in p.room.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        if free(&used, m.start(), m.end()) {
            push(
                &mut out,
                EntityKind::Address,
                m.as_str().to_string(),
                m.as_str(),
            );
            used.push((m.start(), m.end()));
        }
    }

    // Dates.
    let mut date: Option<(NaiveDate, usize, usize)> = None;
    for re in [&p.ymd, &p.iso] {
        if let Some(c) = re.captures(text) {
            let (y, mo, d) = (
                c[1].parse().unwrap_or(0),
                c[2].parse().unwrap_or(0),
                c[3].parse().unwrap_or(0),
            );
            if let (Some(dt), Some(m)) = (date_ok(y, mo, d), c.get(0)) {
                date = Some((dt, m.start(), m.end()));
                break;
            }
        }
    }
    if date.is_none() {
        if let Some(c) = p.md.captures(text) {
            let (mo, d) = (c[1].parse().unwrap_or(0), c[2].parse().unwrap_or(0));
            if let (Some(mut dt), Some(m)) = (date_ok(today.year(), mo, d), c.get(0)) {
                if dt < today - Duration::days(31) {
                    dt = date_ok(today.year() + 1, mo, d).unwrap_or(dt);
                }
                date = Some((dt, m.start(), m.end()));
            }
        }
    }
    if date.is_none() {
        if let Some(c) = p.weekday.captures(text) {
            let wd: i64 = match &c[2] {
                "日" | "天" => 7,
                d => d.parse().unwrap_or(1),
            };
            let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
            let week = match c.get(1).map(|m| m.as_str()) {
                Some("下下") => 2,
                Some("下个") | Some("下") => 1,
                Some("上个") | Some("上") => -1,
                Some(_) => 0,
                None => {
                    // A bare 周三: the next one from today (today included).
                    if monday + Duration::days(wd - 1) < today {
                        1
                    } else {
                        0
                    }
                }
            };
            let dt = monday + Duration::days(week * 7 + wd - 1);
            if let Some(m) = c.get(0) {
                date = Some((dt, m.start(), m.end()));
            }
        }
    }
    if date.is_none() {
        for (w, off) in [
            ("大后天", 3),
            ("后天", 2),
            ("明天", 1),
            ("今天", 0),
            ("昨天", -1),
            ("前天", -2),
        ] {
            if let Some(s) = text.find(w) {
                date = Some((today + Duration::days(off), s, s + w.len()));
                break;
            }
        }
    }
    if let Some((d, s, e)) = date {
        push(&mut out, EntityKind::Date, fmt_date(d), &text[s..e]);
        used.push((s, e));
    }

    // Times.
    let part = PARTS_OF_DAY.iter().find(|(w, _, _)| text.contains(w));
    let mut time: Option<(u32, u32, usize, usize)> = None;
    if let Some(c) = p.colon.captures(text) {
        let (h, mi) = (c[1].parse().unwrap_or(99), c[2].parse().unwrap_or(99));
        if let Some(m) = c.get(0) {
            time = Some((h, mi, m.start(), m.end()));
        }
    } else if let Some(c) = p.clock.captures(text) {
        let h: u32 = c[1].parse().unwrap_or(99);
        let mi = match c.get(2).map(|m| m.as_str()) {
            Some("半") => 30,
            Some("一刻") => 15,
            Some("三刻") => 45,
            Some(_) => c.get(3).and_then(|m| m.as_str().parse().ok()).unwrap_or(0),
            None => 0,
        };
        if let Some(m) = c.get(0) {
            time = Some((h, mi, m.start(), m.end()));
        }
    }
    match (time, part) {
        (Some((mut h, mi, s, e)), part) => {
            if let Some((_, _, pm)) = part {
                if *pm && h < 12 && !(h >= 11 && text.contains("中午")) {
                    h += 12;
                }
            }
            if h < 24 && mi < 60 && free(&used, s, e) {
                push(
                    &mut out,
                    EntityKind::Time,
                    format!("{h:02}:{mi:02}"),
                    &text[s..e],
                );
                used.push((s, e));
            }
        }
        (None, Some((w, h, _))) => push(&mut out, EntityKind::Time, format!("{h:02}:00"), w),
        (None, None) => {}
    }

    // Money.
    for c in p.money.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        if !free(&used, m.start(), m.end()) {
            continue;
        }
        let mut v: f64 = c[1].parse().unwrap_or(0.0);
        if c.get(2).is_some() {
            v *= 10_000.0;
        }
        if let Some(j) = c.get(3) {
            v += j.as_str().parse::<f64>().unwrap_or(0.0) / 10.0;
        }
        let value = if v.fract() == 0.0 {
            format!("{}", v as u64)
        } else {
            format!("{:.2}", v).trim_end_matches('0').to_string()
        };
        push(&mut out, EntityKind::Money, value, m.as_str());
        used.push((m.start(), m.end()));
    }

    // Counts.
    for c in p.count.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        if free(&used, m.start(), m.end()) {
            push(&mut out, EntityKind::Count, c[1].to_string(), m.as_str());
            used.push((m.start(), m.end()));
        }
    }

    // Names: after 我叫 / 名字是 / corrections (名字不对是王小明), or a bare name.
    let mut name: Option<(String, String)> = None;
    for c in p.name.captures_iter(text) {
        if let (Some(g), Some(m)) = (c.get(1), c.get(0)) {
            if let Some(n) = trim_name(g.as_str()) {
                name = Some((n, m.as_str().to_string()));
            }
        }
    }
    if name.is_none() && out.is_empty() {
        // A bare three-character name (an answer to "您叫什么名字"), common surnames only.
        let chars: Vec<char> = text.chars().collect();
        let bare = chars.len() == 3
            && BARE_SURNAMES.contains(chars[0])
            && chars.iter().all(|c| ('\u{4E00}'..='\u{9FFF}').contains(c))
            && !chars[1..].iter().any(|c| NAME_STOP.contains(*c));
        if bare {
            name = Some((text.to_string(), text.to_string()));
        }
    }
    if let Some((v, t)) = name {
        push(&mut out, EntityKind::PersonName, v, &t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize;

    fn today() -> NaiveDate {
        // A Wednesday.
        NaiveDate::from_ymd_opt(2025, 3, 12).unwrap()
    }

    fn find(text: &str, kind: EntityKind) -> Option<String> {
        extract_entities(&normalize(text), today())
            .into_iter()
            .find(|e| e.kind == kind)
            .map(|e| e.value)
    }

    // A valid test ID (checksum computed by GB 11643), and one ending in X.
    const ID: &str = "110101199003074514";
    const ID_X: &str = "11010519491231002X";

    #[test]
    fn id_checksum_and_masks() {
        assert!(id_number_valid(ID));
        assert!(id_number_valid(ID_X));
        assert!(id_number_valid("11010519491231002x"));
        assert!(!id_number_valid("110101199003074515"));
        assert!(!id_number_valid("11010119900307451"));
        assert!(!id_number_valid("11010119900307451a"));
        assert_eq!(mask_id(ID), "110***********4514");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_name("王小明"), "王*明");
        assert_eq!(mask_name("王明"), "王*");
    }

    #[test]
    fn id_numbers_written_and_spoken() {
        assert_eq!(
            find(&format!("我的身份证号是{ID}"), EntityKind::IdNumber).as_deref(),
            Some(ID)
        );
        assert_eq!(
            find(
                "身份证幺幺零幺零幺幺九九零零三零七四五幺四",
                EntityKind::IdNumber
            )
            .as_deref(),
            Some(ID)
        );
        assert_eq!(
            find("幺幺零幺零五幺九四九幺二三幺零零二叉", EntityKind::IdNumber).as_deref(),
            Some(ID_X)
        );
        assert_eq!(
            find("11010519491231002x", EntityKind::IdNumber).as_deref(),
            Some(ID_X)
        );
        // A wrong check digit is not accepted as an ID.
        assert_eq!(find("身份证110101199003074515", EntityKind::IdNumber), None);
    }

    #[test]
    fn phones_written_and_spoken() {
        assert_eq!(
            find("电话13812345678", EntityKind::Phone).as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            find("手机号幺三八幺二三四五六七八", EntityKind::Phone).as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            find("我电话係幺三九，零零零零，幺幺幺幺", EntityKind::Phone).as_deref(),
            Some("13900001111")
        );
        assert_eq!(
            find("138 1234 5678", EntityKind::Phone).as_deref(),
            Some("13812345678")
        );
        assert_eq!(find("电话12345678901", EntityKind::Phone), None);
    }

    #[test]
    fn dates_and_times_resolve_against_today() {
        assert_eq!(
            find("明天上午", EntityKind::Date).as_deref(),
            Some("2025-03-13")
        );
        assert_eq!(find("明天上午", EntityKind::Time).as_deref(), Some("09:00"));
        assert_eq!(
            find("下周三下午", EntityKind::Date).as_deref(),
            Some("2025-03-19")
        );
        assert_eq!(
            find("下周三下午三点半", EntityKind::Time).as_deref(),
            Some("15:30")
        );
        assert_eq!(
            find("后天早上八点一刻", EntityKind::Time).as_deref(),
            Some("08:15")
        );
        assert_eq!(
            find("五月一号", EntityKind::Date).as_deref(),
            Some("2025-05-01")
        );
        assert_eq!(
            find("2025年4月3日", EntityKind::Date).as_deref(),
            Some("2025-04-03")
        );
        assert_eq!(
            find("礼拜一", EntityKind::Date).as_deref(),
            Some("2025-03-17")
        );
        // Dialect forms: Shanghainese 明朝下半日, Cantonese 聽日, Hakka 天光日.
        assert_eq!(
            find("明朝下半日两点", EntityKind::Date).as_deref(),
            Some("2025-03-13")
        );
        assert_eq!(
            find("明朝下半日两点", EntityKind::Time).as_deref(),
            Some("14:00")
        );
        assert_eq!(
            find("聽日下晝", EntityKind::Date).as_deref(),
            Some("2025-03-13")
        );
        assert_eq!(
            find("𠊎天光日來", EntityKind::Date).as_deref(),
            Some("2025-03-13")
        );
    }

    #[test]
    fn addresses_money_counts() {
        assert_eq!(
            find("我住3号楼502室", EntityKind::Address).as_deref(),
            Some("3号楼502室")
        );
        assert_eq!(
            find("住三号楼五零二", EntityKind::Address).as_deref(),
            Some("3号楼502室")
        );
        assert_eq!(
            find("七栋二单元幺零三", EntityKind::Address).as_deref(),
            Some("7号楼2单元103室")
        );
        assert_eq!(find("两百块", EntityKind::Money).as_deref(), Some("200"));
        assert_eq!(find("1500元", EntityKind::Money).as_deref(), Some("1500"));
        assert_eq!(find("三块五", EntityKind::Money).as_deref(), Some("3.5"));
        assert_eq!(
            find("一千五百蚊", EntityKind::Money).as_deref(),
            Some("1500")
        );
        assert_eq!(
            find("我们家有三个人", EntityKind::Count).as_deref(),
            Some("3")
        );
        assert_eq!(find("两位老人", EntityKind::Count).as_deref(), Some("2"));
    }

    #[test]
    fn names_after_patterns_and_corrections() {
        assert_eq!(
            find("我叫王小明", EntityKind::PersonName).as_deref(),
            Some("王小明")
        );
        assert_eq!(
            find(
                "我叫李明身份证号是110101199003074514",
                EntityKind::PersonName
            )
            .as_deref(),
            Some("李明")
        );
        assert_eq!(
            find("名字不对，是王小明", EntityKind::PersonName).as_deref(),
            Some("王小明")
        );
        assert_eq!(
            find("姓名欧阳小红", EntityKind::PersonName).as_deref(),
            Some("欧阳小红")
        );
        assert_eq!(
            find("陈大文", EntityKind::PersonName).as_deref(),
            Some("陈大文")
        );
        assert_eq!(
            find("阿拉名字叫张伟", EntityKind::PersonName).as_deref(),
            Some("张伟")
        );
        assert_eq!(find("我想办社保卡", EntityKind::PersonName), None);
        assert_eq!(find("明天上午", EntityKind::PersonName), None);
    }
}
