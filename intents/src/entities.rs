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
    /// Whose it is, for a person's name: `self` (我叫…), `mother` (孩子妈妈叫李芳), `father`,
    /// `wife`, `husband`, `spouse`, `son`, `daughter`, `child`, `elder`, `party` (the other
    /// side of a sale or dispute: 卖方是刘洋); `None` when the sentence does not say, and for
    /// other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
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
    surname_given: Regex,
    role_name: Regex,
    name_role: Regex,
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
            // The speaker's own name, or a correction of the name just given.
            name: Regex::new(r"(我叫做|我喊做|我叫|我是|我系|我们叫|本人叫|本人是|本人|我的名字叫|我的名字是|我名字叫|我名字是|名字叫做|名字叫|名字是|姓名是|姓名叫|姓名|叫做|喊做|不对是|错了是|不是[^是]{1,6}是|应该是|改成|改为|他叫|她叫)").ok()?,
            // 姓王叫小明 / 姓王名小明 / 姓欧阳叫欧阳小红.
            surname_given: Regex::new(r"姓(欧阳|司马|诸葛|上官|东方|皇甫|尉迟|公孙|\p{Han})(?:的)?(?:名字叫|名字是|叫做|叫|名)").ok()?,
            // Someone else's name: 孩子妈妈叫李芳, 我老婆是王芳, 老人的名字是张秀英.
            role_name: Regex::new(r"(孩子的?妈妈|孩子的?妈|孩子的?母亲|孩子的?爸爸|孩子的?爸|孩子的?父亲|我妈妈|我妈|我母亲|妈妈|母亲|老妈|我爸爸|我爸|我父亲|爸爸|父亲|老爸|我老婆|老婆|我爱人|爱人|妻子|媳妇|太太|我老公|老公|丈夫|先生|老伴|儿子|女儿|孩子|小孩|老人家|老人|卖方|买方|对方|房东|租客|邻居|申请人)(?:的名字|名字|姓名)?(?:叫做|叫|是)").ok()?,
            // 李芳是我老婆.
            name_role: Regex::new(r"(\p{Han}{2,4})是我的?(妈妈|妈|母亲|爸爸|爸|父亲|老婆|爱人|妻子|媳妇|太太|老公|丈夫|先生|老伴|儿子|女儿|孩子|小孩)").ok()?,
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
/// Words that begin after a name (我叫王芳电话是…, 我叫王小明今年六十岁): the name ends
/// where one of them starts.
const NAME_STOP_WORDS: &[&str] = &[
    "今年",
    "今天",
    "明天",
    "后天",
    "电话",
    "手机",
    "身份证",
    "号码",
    "住在",
    "家住",
    "住址",
    "地址",
    "年龄",
    "性别",
    "出生",
    "要办",
    "想办",
    "来办",
    "办理",
    "过来",
    "现在",
    "已经",
    "岁",
    "号",
    "孩子",
    "小孩",
    "妈妈",
    "爸爸",
    "老婆",
    "老公",
    "爱人",
    "儿子",
    "女儿",
    "老人",
    "不对",
    "不是",
    "错了",
];
/// Single characters that never continue a name (the next word begins).
const NAME_STOP: &str = "我你他她的是要想在了吗呢啊吧和跟也还又都就呀哦嘛啦办住叫";

/// The name at the start of `raw`: a known surname (single or compound) and a given name
/// of one or two characters, cut before the next word.
fn trim_name(raw: &str) -> Option<String> {
    let compound = COMPOUND_SURNAMES.iter().find(|c| raw.starts_with(*c));
    let surname: String = match compound {
        Some(c) => c.to_string(),
        None => {
            let c = raw.chars().next()?;
            if !SURNAMES.contains(c) {
                return None;
            }
            c.to_string()
        }
    };
    let mut name = surname.clone();
    let rest = &raw[surname.len()..];
    for (i, c) in rest.char_indices() {
        if name.chars().count() >= surname.chars().count() + 2
            || NAME_STOP.contains(c)
            || NAME_STOP_WORDS.iter().any(|w| rest[i..].starts_with(w))
        {
            break;
        }
        name.push(c);
    }
    (name.chars().count() > surname.chars().count()).then_some(name)
}

/// The role a kinship word names (孩子妈妈 → `mother`).
fn role_of(word: &str) -> &'static str {
    let w = word.trim_start_matches("孩子").trim_start_matches('的');
    if w.is_empty() {
        return "child";
    }
    match w {
        w if w.contains('妈') || w.contains("母亲") => "mother",
        w if w.contains('爸') || w.contains("父亲") => "father",
        "老婆" | "我老婆" | "妻子" | "媳妇" | "太太" => "wife",
        "老公" | "我老公" | "丈夫" | "先生" => "husband",
        "儿子" => "son",
        "女儿" => "daughter",
        "小孩" => "child",
        "老人" | "老人家" => "elder",
        "卖方" | "买方" | "对方" | "房东" | "租客" | "邻居" => "party",
        "申请人" => "self",
        _ => "spouse",
    }
}

/// Up to six Han characters of `text` from byte `at` (where a name would be).
fn after(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let end = rest
        .char_indices()
        .take_while(|(_, c)| ('\u{4E00}'..='\u{9FFF}').contains(c))
        .take(6)
        .last()
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    &rest[..end]
}

/// A name spoken in a sentence, its role, and the text it was read from. Several names
/// (我叫王芳，孩子叫李明) come back in text order; a correction (名字不对，是王晓明) replaces
/// the name before it.
fn find_names(p: &Patterns, text: &str) -> Vec<(String, Option<&'static str>, String)> {
    // (start, name, role, matched text, is a correction)
    let mut found: Vec<(usize, String, Option<&'static str>, String, bool)> = Vec::new();
    for c in p.name.captures_iter(text) {
        let (Some(m), Some(cue)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let g = after(text, m.end());
        if let Some(n) = trim_name(g) {
            let cue = cue.as_str();
            // 我是王小明的妈妈: not the speaker's name.
            if cue == "我是" && text[m.end() + n.len()..].starts_with('的') {
                continue;
            }
            let correction = ["不对是", "错了是", "应该是", "改成", "改为"].contains(&cue)
                || cue.starts_with("不是");
            let role = cue.starts_with('我') || cue.starts_with("本人");
            let t = format!("{}{n}", m.as_str());
            found.push((m.start(), n, role.then_some("self"), t, correction));
        }
    }
    for c in p.surname_given.captures_iter(text) {
        let (Some(m), Some(sn)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let given = after(text, m.end());
        let full = if given.starts_with(sn.as_str()) {
            given.to_string()
        } else {
            format!("{}{given}", sn.as_str())
        };
        if let Some(n) = trim_name(&full) {
            let end = m.end() + given.len();
            found.retain(|f| !(f.0 >= m.start() && f.0 < end));
            let own = text[..m.start()].ends_with('我') || m.start() == 0;
            found.push((
                m.start(),
                n,
                own.then_some("self"),
                text[m.start()..end].to_string(),
                false,
            ));
        }
    }
    for c in p.role_name.captures_iter(text) {
        let (Some(m), Some(r)) = (c.get(0), c.get(1)) else {
            continue;
        };
        if let Some(n) = trim_name(after(text, m.end())) {
            let end = m.end() + n.len();
            found.retain(|f| !(f.0 >= m.start() && f.0 < end));
            found.push((
                m.start(),
                n,
                Some(role_of(r.as_str())),
                text[m.start()..end].to_string(),
                false,
            ));
        }
    }
    for c in p.name_role.captures_iter(text) {
        let (Some(m), Some(g), Some(r)) = (c.get(0), c.get(1), c.get(2)) else {
            continue;
        };
        // The name is the end of the words before 是: the longest that starts with a surname.
        let chars: Vec<char> = g.as_str().chars().collect();
        let name = (2..=chars.len().min(4)).rev().find_map(|k| {
            let cand: String = chars[chars.len() - k..].iter().collect();
            trim_name(&cand).filter(|n| *n == cand)
        });
        if let Some(n) = name {
            found.push((
                m.start(),
                n,
                Some(role_of(r.as_str())),
                m.as_str().to_string(),
                false,
            ));
        }
    }
    found.sort_by_key(|f| f.0);
    let mut out: Vec<(String, Option<&'static str>, String)> = Vec::new();
    for (_, n, role, t, correction) in found {
        if correction {
            if let Some(last) = out.last_mut() {
                *last = (n, last.1, t);
                continue;
            }
        }
        match out.iter_mut().find(|o| o.1.is_some() && o.1 == role) {
            // The same person named again: the later mention wins.
            Some(o) => *o = (n, role, t),
            None => out.push((n, role, t)),
        }
    }
    out.dedup_by(|a, b| a.0 == b.0);
    out
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
            role: None,
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

    // Names: after 我叫 / 名字是 / 孩子妈妈叫 / corrections (名字不对是王小明), or a bare name.
    let mut names = find_names(p, text);
    if names.is_empty() && out.is_empty() {
        // A bare name (an answer to "您叫什么名字"): three characters with a common
        // surname, or a compound surname and one or two more.
        let chars: Vec<char> = text.chars().collect();
        let han = chars.iter().all(|c| ('\u{4E00}'..='\u{9FFF}').contains(c));
        let bare = chars.len() == 3
            && BARE_SURNAMES.contains(chars[0])
            && !chars[1..].iter().any(|c| NAME_STOP.contains(*c));
        let compound =
            (3..=4).contains(&chars.len()) && COMPOUND_SURNAMES.iter().any(|c| text.starts_with(c));
        if han && (bare || compound) {
            names.push((text.to_string(), None, text.to_string()));
        }
    }
    for (v, role, t) in names {
        out.push(Entity {
            kind: EntityKind::PersonName,
            value: v,
            text: t,
            role,
        });
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

    fn name_and_role(text: &str) -> Option<(String, Option<&'static str>)> {
        extract_entities(&normalize(text), today())
            .into_iter()
            .find(|e| e.kind == EntityKind::PersonName)
            .map(|e| (e.value, e.role))
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
        // 两 and 洞 for 2 and 0, the X check digit said as 叉 / 艾克斯, pauses between groups.
        assert_eq!(
            find(
                "身份证号幺幺洞幺洞五，幺九四九幺两三幺，洞洞两艾克斯",
                EntityKind::IdNumber
            )
            .as_deref(),
            Some(ID_X)
        );
        assert_eq!(
            find(
                "幺幺零幺零五 幺九四九幺二三幺 零零二X",
                EntityKind::IdNumber
            )
            .as_deref(),
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
        // Said in groups, with 两 and 洞, and after a name.
        assert_eq!(
            find("幺三八，幺两三四，五六七八", EntityKind::Phone).as_deref(),
            Some("13812345678")
        );
        assert_eq!(
            find("手机幺五洞 两两两两 洞洞洞洞", EntityKind::Phone).as_deref(),
            Some("15022220000")
        );
        assert_eq!(
            find("我叫王芳电话是幺三八幺二三四五六七八", EntityKind::Phone).as_deref(),
            Some("13812345678")
        );
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
        assert_eq!(
            find("三号楼五零二", EntityKind::Address).as_deref(),
            Some("3号楼502室")
        );
        assert_eq!(
            find("我家住在十二栋三单元六零一室", EntityKind::Address).as_deref(),
            Some("12号楼3单元601室")
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

    #[test]
    fn names_in_many_spoken_forms() {
        let cases: &[(&str, &str)] = &[
            ("我叫王小明", "王小明"),
            ("我叫王小明。", "王小明"),
            ("我是王小明", "王小明"),
            ("我的名字是王小明", "王小明"),
            ("名字是王小明", "王小明"),
            ("我名字叫王小明", "王小明"),
            ("姓王叫王小明", "王小明"),
            ("我姓王，叫小明", "王小明"),
            ("我姓王名小明", "王小明"),
            ("阿拉叫王小明", "王小明"),
            ("侬好，阿拉叫王小明", "王小明"),
            ("我叫做陳大文", "陈大文"),
            ("我係陳大文", "陈大文"),
            ("名字不对，是王小明", "王小明"),
            ("我叫王小明，不对，是王晓明", "王晓明"),
            ("不是王小明，是王晓明", "王晓明"),
            ("名字错了，应该是王晓明", "王晓明"),
            ("我叫王芳", "王芳"),
            ("我叫李明", "李明"),
            ("姓名欧阳小红", "欧阳小红"),
            ("我叫欧阳娜娜", "欧阳娜娜"),
            ("我叫司马光", "司马光"),
            ("我叫诸葛亮", "诸葛亮"),
            ("我姓诸葛，叫诸葛明", "诸葛明"),
            ("欧阳小红", "欧阳小红"),
            // The name ends where the next words begin.
            ("我叫王小明今年六十岁", "王小明"),
            ("我叫王芳电话是13812345678", "王芳"),
            ("我叫王芳，电话幺三八幺二三四五六七八", "王芳"),
            ("我叫王芳身份证号是110101199003074514", "王芳"),
            ("我叫王芳住在3号楼", "王芳"),
            ("我叫王芳来办社保卡", "王芳"),
            ("我叫王芳想办低保", "王芳"),
            ("我叫王小明我想办社保卡", "王小明"),
        ];
        for (t, want) in cases {
            assert_eq!(
                find(t, EntityKind::PersonName).as_deref(),
                Some(*want),
                "{t}"
            );
        }
    }

    #[test]
    fn names_of_other_people_carry_their_role() {
        let cases: &[(&str, &str, &str)] = &[
            ("孩子妈妈叫李芳", "李芳", "mother"),
            ("孩子的妈妈叫李芳", "李芳", "mother"),
            ("我妈叫张秀英", "张秀英", "mother"),
            ("孩子爸爸是王强", "王强", "father"),
            ("李芳是我老婆", "李芳", "wife"),
            ("我老婆是王芳", "王芳", "wife"),
            ("王小明是我儿子", "王小明", "son"),
            ("孩子叫王乐乐", "王乐乐", "child"),
            ("老人的名字是张秀英", "张秀英", "elder"),
            ("卖方是刘洋", "刘洋", "party"),
            ("我喊做李明", "李明", "self"),
        ];
        for (t, name, role) in cases {
            assert_eq!(
                name_and_role(t),
                Some((name.to_string(), Some(*role))),
                "{t}"
            );
        }
        assert_eq!(
            name_and_role("我叫王小明"),
            Some(("王小明".to_string(), Some("self")))
        );
        // Two people: both, in the order said.
        let e = extract_entities(&normalize("我叫王芳，孩子叫李明"), today());
        let names: Vec<(&str, Option<&str>)> = e
            .iter()
            .filter(|e| e.kind == EntityKind::PersonName)
            .map(|e| (e.value.as_str(), e.role))
            .collect();
        assert_eq!(names, vec![("王芳", Some("self")), ("李明", Some("child"))]);
    }

    #[test]
    fn no_name_where_none_was_said() {
        for t in [
            "我姓李",
            "叫我老王",
            "我是来办社保卡的",
            "我是外地人",
            "我是王小明的妈妈",
            "我想办社保卡",
            "明天上午",
            "楼上天天吵",
            "我是说明天",
        ] {
            assert_eq!(find(t, EntityKind::PersonName), None, "{t}");
        }
    }
}
