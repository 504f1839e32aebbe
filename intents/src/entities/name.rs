//! Person names, with whose they are: 我叫王芳 (`self`), 孩子妈妈叫李芳 (`mother`),
//! 李芳是我老婆 (`wife`), 卖方是刘洋 (`party`); corrections (名字不对，是王晓明) replace the
//! name before them; a bare name answers 您叫什么名字.

use std::sync::OnceLock;

use regex::Regex;

use super::{captures, EntityKind, Found};

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

/// The speaker's own name, or a correction of the name just given.
const CUE: &str = r"(我叫做|我喊做|我叫|我是|我系|我们叫|本人叫|本人是|本人|我的名字叫|我的名字是|我名字叫|我名字是|名字叫做|名字叫|名字是|姓名是|姓名叫|姓名|叫做|喊做|不对是|错了是|不是[^是]{1,6}是|应该是|改成|改为|他叫|她叫)";
/// 姓王叫小明 / 姓王名小明 / 姓欧阳叫欧阳小红.
const SURNAME_GIVEN: &str =
    r"姓(欧阳|司马|诸葛|上官|东方|皇甫|尉迟|公孙|\p{Han})(?:的)?(?:名字叫|名字是|叫做|叫|名)";
/// Someone else's name: 孩子妈妈叫李芳, 我老婆是王芳, 老人的名字是张秀英.
const ROLE_NAME: &str = r"(孩子的?妈妈|孩子的?妈|孩子的?母亲|孩子的?爸爸|孩子的?爸|孩子的?父亲|我妈妈|我妈|我母亲|妈妈|母亲|老妈|我爸爸|我爸|我父亲|爸爸|父亲|老爸|我老婆|老婆|我爱人|爱人|妻子|媳妇|太太|我老公|老公|丈夫|先生|老伴|儿子|女儿|孩子|小孩|老人家|老人|卖方|买方|对方|房东|租客|邻居|申请人)(?:的名字|名字|姓名)?(?:叫做|叫|是)";
/// 李芳是我老婆.
const NAME_ROLE: &str = r"(\p{Han}{2,4})是我的?(妈妈|妈|母亲|爸爸|爸|父亲|老婆|爱人|妻子|媳妇|太太|老公|丈夫|先生|老伴|儿子|女儿|孩子|小孩)";
/// Cues that correct the name said before.
const CORRECTIONS: [&str; 5] = ["不对是", "错了是", "应该是", "改成", "改为"];

/// A name said in the text.
struct Mention {
    /// Byte where its cue starts.
    start: usize,
    name: String,
    role: Option<&'static str>,
    /// The text it was read from.
    text: String,
    /// Whether it corrects the name said before it.
    correction: bool,
}

impl Mention {
    fn new(start: usize, name: String, role: Option<&'static str>, text: String) -> Self {
        Mention {
            start,
            name,
            role,
            text,
            correction: false,
        }
    }
}

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

/// Reads the names of the text: after 我叫 / 名字是 / 孩子妈妈叫 / a correction, or a
/// bare name when nothing else was read.
pub(super) fn extract(f: &mut Found) {
    let mut names = said(f.text);
    if names.is_empty() && f.out.is_empty() {
        names.extend(bare(f.text).map(|n| Mention::new(0, n.to_string(), None, n.to_string())));
    }
    for m in names {
        f.push(EntityKind::PersonName, m.name, &m.text, m.role);
    }
}

/// The names said in a sentence, in text order; a correction replaces the name before it,
/// and the same person named again keeps the later name.
fn said(text: &str) -> Vec<Mention> {
    let mut found = Vec::new();
    after_cues(text, &mut found);
    surname_then_given(text, &mut found);
    after_roles(text, &mut found);
    before_roles(text, &mut found);
    found.sort_by_key(|m| m.start);
    let mut out: Vec<Mention> = Vec::new();
    for m in found {
        if m.correction {
            if let Some(last) = out.last_mut() {
                last.name = m.name;
                last.text = m.text;
                continue;
            }
        }
        match out
            .iter_mut()
            .find(|o| o.role.is_some() && o.role == m.role)
        {
            Some(o) => *o = m,
            None => out.push(m),
        }
    }
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// Drops the mentions that start inside `start..end` (read again by a longer cue).
fn drop_within(found: &mut Vec<Mention>, start: usize, end: usize) {
    found.retain(|f| !(f.start >= start && f.start < end));
}

/// 我叫王小明, 名字是…, 不对是王晓明 (a correction).
fn after_cues(text: &str, found: &mut Vec<Mention>) {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    for c in captures(&RE, CUE, text) {
        let (m, Some(cue)) = (c.get_match(), c.get(1)) else {
            continue;
        };
        let Some(n) = trim_name(after(text, m.end())) else {
            continue;
        };
        let cue = cue.as_str();
        // 我是王小明的妈妈: not the speaker's name.
        if cue == "我是" && text[m.end() + n.len()..].starts_with('的') {
            continue;
        }
        let own = cue.starts_with('我') || cue.starts_with("本人");
        let t = format!("{}{n}", m.as_str());
        found.push(Mention {
            correction: CORRECTIONS.contains(&cue) || cue.starts_with("不是"),
            ..Mention::new(m.start(), n, own.then_some("self"), t)
        });
    }
}

/// 姓王叫小明, 我姓诸葛，叫诸葛明.
fn surname_then_given(text: &str, found: &mut Vec<Mention>) {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    for c in captures(&RE, SURNAME_GIVEN, text) {
        let (m, Some(sn)) = (c.get_match(), c.get(1)) else {
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
            drop_within(found, m.start(), end);
            let own = text[..m.start()].ends_with('我') || m.start() == 0;
            let t = text[m.start()..end].to_string();
            found.push(Mention::new(m.start(), n, own.then_some("self"), t));
        }
    }
}

/// 孩子妈妈叫李芳, 卖方是刘洋.
fn after_roles(text: &str, found: &mut Vec<Mention>) {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    for c in captures(&RE, ROLE_NAME, text) {
        let (m, Some(r)) = (c.get_match(), c.get(1)) else {
            continue;
        };
        if let Some(n) = trim_name(after(text, m.end())) {
            let end = m.end() + n.len();
            drop_within(found, m.start(), end);
            let t = text[m.start()..end].to_string();
            found.push(Mention::new(m.start(), n, Some(role_of(r.as_str())), t));
        }
    }
}

/// 李芳是我老婆: the name is the end of the words before 是, the longest that starts with a
/// surname.
fn before_roles(text: &str, found: &mut Vec<Mention>) {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    for c in captures(&RE, NAME_ROLE, text) {
        let (m, Some(g), Some(r)) = (c.get_match(), c.get(1), c.get(2)) else {
            continue;
        };
        let chars: Vec<char> = g.as_str().chars().collect();
        let name = (2..=chars.len().min(4)).rev().find_map(|k| {
            let cand: String = chars[chars.len() - k..].iter().collect();
            trim_name(&cand).filter(|n| *n == cand)
        });
        if let Some(n) = name {
            let t = m.as_str().to_string();
            found.push(Mention::new(m.start(), n, Some(role_of(r.as_str())), t));
        }
    }
}

/// A bare name (an answer to "您叫什么名字"): three Han characters with a common surname,
/// or a compound surname and one or two more.
fn bare(text: &str) -> Option<&str> {
    let chars: Vec<char> = text.chars().collect();
    let han = chars.iter().all(|c| ('\u{4E00}'..='\u{9FFF}').contains(c));
    let common = chars.len() == 3
        && BARE_SURNAMES.contains(chars[0])
        && !chars[1..].iter().any(|c| NAME_STOP.contains(*c));
    let compound =
        (3..=4).contains(&chars.len()) && COMPOUND_SURNAMES.iter().any(|c| text.starts_with(c));
    (han && (common || compound)).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{entities, expect, find};
    use super::super::EntityKind;

    fn name_and_role(text: &str) -> Option<(String, Option<&'static str>)> {
        entities(text)
            .into_iter()
            .find(|e| e.kind == EntityKind::PersonName)
            .map(|e| (e.value, e.role))
    }

    #[test]
    fn names_in_many_spoken_forms() {
        expect(
            EntityKind::PersonName,
            &[
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
                ("阿拉名字叫张伟", "张伟"),
                ("侬好，阿拉叫王小明", "王小明"),
                ("我叫做陳大文", "陈大文"),
                ("我係陳大文", "陈大文"),
                ("我叫王芳", "王芳"),
                ("我叫李明", "李明"),
                ("姓名欧阳小红", "欧阳小红"),
                ("我叫欧阳娜娜", "欧阳娜娜"),
                ("我叫司马光", "司马光"),
                ("我叫诸葛亮", "诸葛亮"),
                ("我姓诸葛，叫诸葛明", "诸葛明"),
                // A bare name answers "what is your name".
                ("欧阳小红", "欧阳小红"),
                ("陈大文", "陈大文"),
                // The name ends where the next words begin.
                ("我叫王小明今年六十岁", "王小明"),
                ("我叫王芳电话是13812345678", "王芳"),
                ("我叫王芳，电话幺三八幺二三四五六七八", "王芳"),
                ("我叫王芳身份证号是110101199003074514", "王芳"),
                ("我叫李明身份证号是110101199003074514", "李明"),
                ("我叫王芳住在3号楼", "王芳"),
                ("我叫王芳来办社保卡", "王芳"),
                ("我叫王芳想办低保", "王芳"),
                ("我叫王小明我想办社保卡", "王小明"),
            ],
        );
    }

    #[test]
    fn a_correction_replaces_the_name_before_it() {
        expect(
            EntityKind::PersonName,
            &[
                ("名字不对，是王小明", "王小明"),
                ("我叫王小明，不对，是王晓明", "王晓明"),
                ("不是王小明，是王晓明", "王晓明"),
                ("名字错了，应该是王晓明", "王晓明"),
            ],
        );
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
            ("我叫王小明", "王小明", "self"),
        ];
        for (t, name, role) in cases {
            assert_eq!(
                name_and_role(t),
                Some((name.to_string(), Some(*role))),
                "{t}"
            );
        }
        // Two people: both, in the order said.
        let e = entities("我叫王芳，孩子叫李明");
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
