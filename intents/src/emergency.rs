//! Emergencies: the words that name one (characters, dialect forms, sounds), what makes
//! them not one (prevention: 防摔倒扶手; the past: 上个月摔倒了，想装扶手), and the policy
//! that joins them with the classifier's reading.
//!
//! A real emergency must always read as one, and a need told in serious words (help at
//! home, a frail parent living alone, no money, a fall last month) never: strong words
//! happening now decide at once ([`EmergencyCall::Rule`]); words that often mean
//! something else ([`EmergencyCue::weak`]: 中风 in a disability question, 掉下来 of a
//! tile) count unless the classifier rules an emergency out; without words, the
//! classifier's emergency reading counts only when it is strong
//! ([`CLASSIFIER_EMERGENCY_MIN`]).

use crate::features::fuzzy;

/// Emergency phrases, matched on normalised text (dialect forms are already Mandarin:
/// 跌倒/跌低/跋倒 → 摔倒, 起袂来 → 起不来, 火烧厝 → 房子着火 …): danger happening to a
/// person now, by kind. Dialect forms that the lexicons leave as they are (打交, 相打,
/// 透唔到气) are listed too.
const EMERGENCY_WORDS: &[&str] = &[
    // falls
    "摔倒",
    "跌倒",
    "摔了一跤",
    "摔跤",
    "起不来",
    "站不起来",
    "爬不起来",
    "摔伤",
    "栽倒",
    "栽地上",
    "倒在地上",
    "一动不动",
    "躺在路边",
    "躺在路上",
    "倒在路边",
    "倒在路上",
    "倒地上",
    "倒地不起",
    "躺在地上",
    "趴在地上",
    "倒下了",
    "动不了",
    "起不了身",
    // fire and gas
    "着火",
    "著火",
    "失火",
    "火灾",
    "冒烟",
    "起火",
    "火烧了",
    "烧起来",
    "浓烟",
    "火燭",
    "火烛",
    "煤气泄漏",
    "燃气泄漏",
    "煤气味",
    "燃气味",
    "天然气味",
    "瓦斯味",
    "煤气漏",
    "燃气漏",
    "漏煤气",
    "漏燃气",
    "煤气中毒",
    "一氧化碳",
    "触电",
    "被电到",
    "爆炸",
    "炸了",
    "漏电",
    "冒火花",
    "火花",
    "冒火星",
    "黑烟",
    "火苗",
    "着了火",
    "烧着了",
    "漏气了",
    "臭鸡蛋味",
    "电线冒烟",
    // smoke that fills a place (冒烟 alone is weak: 气得冒烟)
    "全是烟",
    "都是烟",
    "好大烟",
    "烟好大",
    "烟很大",
    "好多烟",
    "满屋子烟",
    "一屋子烟",
    "往外冒烟",
    "冒出烟",
    "冒浓烟",
    "在冒烟",
    "往下跳",
    "迷迷糊糊",
    "浑身冒冷汗",
    "1身冷汗",
    "意识模糊",
    "神志不清",
    "焦糊味",
    "烧焦味",
    "煤气罐",
    // the body
    "救命",
    "救人",
    "晕倒",
    "晕过去",
    "晕了",
    "昏倒",
    "昏过去",
    "昏迷",
    "叫不醒",
    "叫不应",
    "喊不应",
    "喊不醒",
    "叫不答应",
    "喊不答应",
    "没有反应",
    "没反应",
    "不省人事",
    "没有呼吸",
    "没呼吸",
    "没气了",
    "喘不上气",
    "喘不过气",
    "喘不上",
    "喘不过来",
    "透不过气",
    "透不到气",
    "上不来气",
    "呼吸困难",
    "心脏病",
    "胸口疼",
    "胸口痛",
    "心口疼",
    "心口痛",
    "心梗",
    "心肌梗",
    "中风",
    "嘴歪",
    "嘴角歪",
    "脸歪",
    "半边脸",
    "半边身子",
    "说不出话",
    "说不了话",
    "说不利索",
    "口齿不清",
    "一边身子",
    "半边身体",
    "一边手抬不起",
    "一边手脚",
    "半边手脚",
    "抽搐",
    "抽过去",
    "抽起来",
    "口吐白沫",
    "出血",
    "流血",
    "好多血",
    "大出血",
    "血止不住",
    "头破血流",
    "满脸是血",
    "满头是血",
    "全是血",
    "流了1地",
    "1地的血",
    "流了一地",
    "一地的血",
    "止不住血",
    "烫伤",
    "烧伤",
    "骨折",
    "噎住",
    "卡住喉咙",
    "卡在喉咙",
    "中毒",
    "吃错药",
    "吃了1瓶",
    "吞了1瓶",
    "1整瓶药",
    "把药全吃了",
    "吃了好多药",
    "吃了很多药",
    "安眠药",
    "农药",
    "过敏性休克",
    "休克",
    "快不行了",
    "不行了",
    "胸闷",
    "心脏不舒服",
    "心脏难受",
    "吐血",
    "咯血",
    "脑溢血",
    "脑出血",
    "脑梗",
    "猝死",
    "心跳停",
    "没心跳",
    "晕厥",
    "癫痫",
    "羊癫疯",
    "抽风",
    "误食",
    "呛到",
    "噎到",
    "中暑",
    "伤口很深",
    "砸伤",
    "砸到人",
    "被狗咬",
    "被蛇咬",
    "毒蛇",
    "毒蘑菇",
    "羊水破",
    "没意识",
    "醒不过来",
    "压在下面",
    "压住了",
    "挨打",
    "被打",
    "打孩子",
    "打老婆",
    "砸门",
    "砸我家门",
    "踹门",
    "踹我家门",
    "耍刀",
    "有枪",
    "非礼",
    "寻短见",
    "走绝路",
    "活够了",
    "烧炭",
    "抽筋",
    "过敏",
    "低血糖",
    "要生了",
    // violence
    "打人",
    "砍人",
    "拿刀",
    "拿着刀",
    "提着刀",
    "举着刀",
    "动刀",
    "持刀",
    "菜刀",
    "捅人",
    "杀人",
    "行凶",
    "打架",
    "打起来",
    "打交",
    "相打",
    "在打我",
    "要打我",
    "被人打",
    "抢劫",
    "抢东西",
    "撬门",
    "撬锁",
    "被撬",
    "打劫",
    "被抢",
    "闯进",
    "入室",
    "掐我",
    "掐脖子",
    "弄死",
    "杀了我",
    "要杀我",
    "砍死",
    "捅死",
    "打伤",
    "威胁",
    "跟踪",
    "尾随",
    "绑架",
    "拐走",
    "被拐",
    "家暴",
    // self-harm
    "想不开",
    "不想活",
    "自杀",
    "跳楼",
    "轻生",
    "寻死",
    "一了百了",
    "割腕",
    "活着没意思",
    "想死",
    "跳下去",
    "不想生存",
    "天台边",
    "楼顶边",
    "上吊",
    "喝药",
    "割脉",
    "跳河",
    "跳江",
    "活不下去",
    // drowning, trapped, accidents, lost people
    "溺水",
    "掉水里",
    "掉河里",
    "落水",
    "被困",
    "困在",
    "关在电梯",
    "困在电梯",
    "电梯卡住",
    "电梯卡在",
    "卡在电梯",
    "困电梯",
    "出不去",
    "电梯里关",
    "关在里面",
    "被关在",
    "被锁在",
    "锁在车里",
    "出不来",
    "车祸",
    "被车撞",
    "撞倒",
    "坠楼",
    "掉下来",
    "走丢了",
    "走失",
    // calls for help
    "救护车",
    "报警",
    "快来人",
    "打120",
    "打110",
    "打119",
    "叫120",
];

/// The same, by sound (fuzzy tone-less pinyin), for garbled recogniser output
/// (摔到了 → shuai dao, 着活了 → zhao huo). Only phrases whose sound is rarely anything else.
const EMERGENCY_SOUNDS: &[&[&str]] = &[
    &["shuai", "dao"],
    &["die", "dao"],
    &["qi", "bu", "lai"],
    &["zhao", "huo", "le"],
    &["zhe", "huo", "le"],
    &["shi", "huo", "le"],
    &["jiu", "ming"],
    &["yun", "dao", "le"],
    &["hun", "dao"],
    &["yun", "guo", "qu"],
    &["chuan", "bu", "shang", "qi"],
    &["chuan", "bu", "guo", "qi"],
    &["liu", "xue"],
    &["xiang", "bu", "kai"],
    &["bu", "xiang", "huo", "le"],
    &["jiu", "hu", "che"],
];

/// Words of the list above that often name something other than a person in danger now
/// (中风 in a disability question, 掉下来 of a tile, 出不来 of money, 打架 of children at
/// school, 报警 of a broken alarm): on their own they count only when the classifier does
/// not rule an emergency out ([`EmergencyCue::weak`]).
const WEAK_WORDS: &[&str] = &[
    "迷迷糊糊",
    "浑身冒冷汗",
    "1身冷汗",
    "中风",
    "半边身子",
    "骨折",
    "出不来",
    "出不去",
    "火花",
    "说不利索",
    "一边身子",
    "掉下来",
    "掉水里",
    "打架",
    "打起来",
    "报警",
    "中毒",
    "过敏性休克",
    "农药",
    "安眠药",
    "不行了",
    "冒烟",
    "烫伤",
    "烧伤",
    "出血",
    "流血",
    "困在",
    "撞倒",
    "走失",
    "撬门",
    "撬锁",
    "被撬",
    "抢东西",
    "挨打",
    "被打",
    "打孩子",
    "抽筋",
    "过敏",
    "低血糖",
    "要生了",
    "压住了",
    "砸门",
    "砸我家门",
    "踹门",
    "踹我家门",
    "漏气了",
    "说不出话",
    "没反应",
    "没有反应",
    "心脏病",
    "车祸",
    "没气了",
    "摔跤",
    "被锁在",
    "动不了",
    "炸了",
    "漏电",
    "被狗咬",
    "威胁",
    "跟踪",
    "家暴",
    "活不下去",
    "误食",
    "伤口很深",
    "中暑",
    "胸闷",
    "倒下了",
];

/// A person who can be lost (孩子不见了, 老人找不到了); an object that is lost is not an
/// emergency (身份证不见了).
const PEOPLE: &[&str] = &[
    "孩子", "小孩", "娃", "小人", "小囡", "细人", "儿子", "女儿", "孙子", "孙女", "外孙", "老人",
    "老头", "老太", "奶奶", "爷爷", "外婆", "外公", "老伴", "我妈", "我爸", "老母", "老父", "囝",
    "仔",
];
/// …and how one is lost.
const LOST: &[&str] = &[
    "不见了",
    "找不到了",
    "找不着了",
    "寻不着",
    "找不到人",
    "走丢",
    "没回来",
];
/// Most characters between a person and how they are lost (孙子放学到现在没回来).
const LOST_GAP: usize = 6;
/// Between a person and "lost", these make it a thing that is lost (孩子的卡不见了,
/// 老人手机找不到了) or not a loss at all (眼睛看不见了).
const LOST_THING: &[char] = &['的', '卡', '证', '本', '机', '钥', '包', '钱', '看', '票'];
/// An emergency word that names something milder after a given word: 头晕了 is dizziness,
/// not a faint (晕了).
const MILDER_AFTER: &[(&str, &str)] = &[("晕了", "头"), ("昏了", "头")];

/// Words before an emergency word that deny it (没打人, 不是着火).
const DENIED: &[&str] = &["没", "不是", "没有", "别"];

/// Words anywhere that make the whole utterance about learning or preparing, not an
/// emergency (消防演练, 急救培训, 防诈骗讲座, 报名学急救).
const PREVENTION: &[&str] = &["演练", "培训", "知识", "讲座", "课程", "报名", "隐患"];

/// Words shortly before a hazard ([`PREVENTION_GAP`] characters) that make it
/// prevention or a supposition, not an emergency now (防摔倒扶手, 总怕他再摔, 万一着火,
/// 学学怎么救溺水的人). Checked after [`NOT_PREVENTION`] is taken out of the text before
/// the hazard: 消防 (叫消防) and 防盗门 are not prevention, 害怕 is not a worry about
/// what may happen.
const PREVENTION_NEAR: &[&str] = &[
    "防",
    "预防",
    "避免",
    "以防",
    "怕",
    "万一",
    "要是",
    "如果",
    "假如",
    "容易",
    "学学",
    "学习",
    "学会",
    "学一下",
    "学怎么",
    "教",
];
/// Most characters between a [`PREVENTION_NEAR`] word and the hazard it is about.
const PREVENTION_GAP: usize = 8;
/// Words containing a [`PREVENTION_NEAR`] word that are not prevention (叫消防, 防盗门被撬,
/// 我好害怕).
const NOT_PREVENTION: &[&str] = &[
    "消防", "防盗", "害怕", "可怕", "好怕", "很怕", "怕死", "吓", "教室", "教训",
];

/// Whether the few characters before a hazard make it prevention or a supposition.
fn prevented(head: &str) -> bool {
    let start = head
        .char_indices()
        .rev()
        .nth(PREVENTION_GAP - 1)
        .map_or(0, |(i, _)| i);
    let mut near = head[start..].to_string();
    for w in NOT_PREVENTION {
        near = near.replace(w, "|");
    }
    PREVENTION_NEAR.iter().any(|p| near.contains(p))
}

/// Words that put the event in the past or say it is over (上个月摔倒了, 中风以后,
/// 现在没事了): a need that follows from it, not an emergency now.
const SETTLED: &[&str] = &[
    "上个月",
    "上周",
    "上礼拜",
    "上星期",
    "去年",
    "旧年",
    "前年",
    "前几天",
    "前两天",
    "前些天",
    "前些日子",
    "前一阵",
    "前阵子",
    "年前",
    "月前",
    "天前",
    "以前",
    "之前",
    "那年",
    "那次",
    "上次",
    "上回",
    "上趟",
    "前月",
    "以后",
    "之后",
    "后来",
    "过一回",
    "过一次",
    // as normalised (numbers become digits: 摔过一次 → 摔过1次)
    "过1回",
    "过1次",
    "前2天",
    "前3天",
    "过2次",
    "过几次",
    "过好几次",
    "好几回",
    "好几次",
    "几回了",
    "几次了",
    "现在好了",
    "没事了",
    "好多了",
    "出院",
    "康复",
    "后遗症",
    "留下",
    "好几年",
    // a healed injury (烫伤的疤) and a lasting condition (胸口老是闷): a need
    "疤",
    "老是",
    "经常",
    "总是",
    "常常",
    "时不时",
    "动不动就",
    "老毛病",
];

/// Words that ask for a service to be arranged (想装个扶手, 申请补贴): told with them, an
/// emergency word describes the situation behind a need (老人上厕所起不来身，想装个扶手),
/// read like the past unless something says it is happening now.
const SERVICE_ASK: &[&str] = &[
    "扶手", "想装", "申请", "补贴", "补助", "想办", "办个", "办理", "报销", "评残",
];

/// Words that say it is happening now (刚才, 突然, 快来): they override [`SETTLED`].
const URGENT: &[&str] = &[
    "刚才",
    "刚刚",
    "突然",
    "正在",
    "快来",
    "快点",
    "赶紧",
    "赶快",
    "马上",
    "救命",
    "止不住",
    "还在",
    "现在就",
    "快叫",
    "快打",
    "紧来",
    "怎么办啊",
    "不好了",
    "出事了",
    "紧急",
    "快啲",
    "快些",
];

/// [`URGENT`] words that here say a trace of the past remains (疤还在), not that
/// something is going on.
const NOT_URGENT: &[&str] = &["疤还在", "印子还在", "后遗症还在", "病根还在"];

/// What the rules see in an utterance about an emergency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmergencyCue {
    /// Emergency words (or their sounds) are there, not as prevention.
    pub hit: bool,
    /// Only words of the weak kind (they often name something else).
    pub weak: bool,
    /// The event is in the past or over, and nothing says it is happening now.
    pub settled: bool,
    /// Something says it is happening now.
    pub urgent: bool,
    /// Words tell of a lasting state (坏了1个礼拜了) or name something that only looks
    /// like an emergency (打不着火, 报警器): the classifier alone must be very sure.
    pub calm: bool,
}

impl EmergencyCue {
    /// The words name an emergency whatever the classifier thinks: a hit, strong, not
    /// settled.
    pub fn certain(&self) -> bool {
        self.hit && !self.settled && !self.weak
    }
}

/// Ways a person is lost that may stand further from the person (小孩在小区里玩，一转眼人就
/// 没影了; 儿子下午出去到现在都联系不上).
const LOST_FAR: &[&str] = &[
    "没影",
    "转眼就不见",
    "转眼不见",
    "到现在都没回",
    "到现在还没回",
    "到现在都联系不上",
    "到现在还联系不上",
    "到处都找不到",
    "到处找不到",
    "哪里都找不到",
    "找了半天没找到",
];
/// Most characters between a person and a [`LOST_FAR`] phrase.
const LOST_FAR_GAP: usize = 12;
/// What follows 找不到人 when no one can be found to help (找不到人照顾), not a lost person.
const NO_HELPER: &[&str] = &[
    "照顾", "帮", "管", "陪", "看", "带", "接", "送", "问", "办", "说",
];

fn lost_person(text: &str) -> bool {
    let lost_within = |after: &str, words: &[&str], gap: usize| {
        words.iter().any(|l| {
            after.find(l).is_some_and(|j| {
                let between = &after[..j];
                between.chars().count() <= gap
                    && !between.contains(LOST_THING)
                    && !between.contains('防')
                    // 走丢过 (1次): it happened before
                    && !after[j + l.len()..].starts_with('过')
                    // 找不到人照顾: no one to help, not a person lost
                    && !NO_HELPER.iter().any(|h| after[j + l.len()..].starts_with(h))
            })
        })
    };
    PEOPLE.iter().any(|p| {
        text.match_indices(p).any(|(i, _)| {
            let after: String = text[i + p.len()..].chars().take(LOST_FAR_GAP + 8).collect();
            lost_within(&after, LOST, LOST_GAP) || lost_within(&after, LOST_FAR, LOST_FAR_GAP)
        })
    })
}

/// A state that has lasted days or more (电梯坏了1个礼拜了, 腿疼好几天了): told with no
/// emergency words, it is a need or a complaint.
const LASTING: &[&str] = &[
    "个礼拜了",
    "个星期了",
    "个月了",
    "好几天了",
    "好些天了",
    "好久了",
    "好长时间了",
    "一直这样",
    "老毛病",
    "年了",
    "天了",
    "周了",
];

/// Phrases that contain an emergency word but name something else; they are taken out
/// before the words are matched: 打不着火 (a stove that will not light), 报警器 (an alarm
/// to install), 腿脚不行了 (frailty, not collapse).
const NOT_EMERGENCY: &[&str] = &[
    "打不着火",
    "点不着火",
    "打不着",
    "点不着",
    "报警器",
    "报警的",
    "报警装置",
    "报警按钮",
    "腿脚不行",
    "腿不行",
    "脚不行",
    "眼睛不行",
    "耳朵不行",
    "身体不行",
    "记性不行",
    "脑子不行",
    "腰不行",
];

/// Words that ask who answers for a danger that may come (真烧起来谁负责): a complaint
/// about a hazard, read like an event in the past (the classifier must be very sure).
const CONSEQUENCE: &[&str] = &["谁负责", "谁来负责", "谁赔", "谁担责", "可怎么办"];

/// An emergency told by two parts a few characters apart: no answer when called (喊他也没
/// 动静, 叫伊勿应), a chest that hurts (心口绞着疼),
/// a fall into water (掉进小区的水池), a poison swallowed (把洗衣液喝下去, 喝了农药).
struct Pair {
    first: &'static [&'static str],
    second: &'static [&'static str],
    /// Most characters between the two.
    gap: usize,
    /// The second part may come first (把洗衣液喝了).
    either_order: bool,
    /// Words anywhere that make it about a thing, not a person (手机掉进水里).
    unless: &'static [&'static str],
}

const PAIRS: &[Pair] = &[
    Pair {
        first: &["叫", "喊", "敲门", "拍门"],
        second: &[
            "没动静",
            "没有动静",
            "没声音",
            "不应",
            "不答应",
            "没反应",
            "没有反应",
        ],
        gap: 6,
        either_order: false,
        // …of a person, not of a machine (叫号没反应, 手机叫了没反应)
        unless: &[
            "不应该",
            "叫号",
            "机器",
            "屏幕",
            "按钮",
            "手机",
            "系统",
            "二维码",
            "网",
            "刷",
        ],
    },
    Pair {
        first: &["狗", "蛇", "猫", "狼", "马蜂", "蜂"],
        second: &["咬", "蛰", "叮"],
        gap: 3,
        either_order: false,
        unless: &["疫苗", "咬过", "蛰过", "登记", "办证"],
    },
    Pair {
        first: &[
            "电线",
            "插座",
            "插头",
            "电动车",
            "电瓶",
            "电箱",
            "油锅",
            "锅",
            "被子",
            "窗帘",
            "沙发",
            "房子",
            "屋",
        ],
        second: &["着了", "着起来", "烧起来", "着火", "烧着"],
        gap: 4,
        either_order: false,
        unless: &[],
    },
    Pair {
        first: &["胸口", "心口", "胸前", "心脏"],
        second: &["疼", "痛", "闷", "绞", "憋", "压着"],
        gap: 4,
        either_order: false,
        unless: &[],
    },
    Pair {
        first: &[
            "掉进", "掉到", "掉下", "落进", "栽进", "跌进", "摔进", "滑进", "掉在",
        ],
        second: &["水", "河", "池", "湖", "井", "塘", "海", "江", "沟", "粪坑"],
        gap: 6,
        either_order: false,
        unless: &[
            "手机", "钥匙", "钱包", "东西", "卡", "证", "盖", "衣服", "鞋", "帽",
        ],
    },
    Pair {
        first: &["喝", "吃", "吞", "舔"],
        second: &[
            "洗衣液",
            "消毒液",
            "84",
            "农药",
            "老鼠药",
            "耗子药",
            "杀虫剂",
            "洁厕",
            "漂白",
            "敌敌畏",
            "百草枯",
            "干燥剂",
            "电池",
            "汽油",
            "机油",
            "洗洁精",
        ],
        gap: 8,
        either_order: true,
        unless: &["残留"],
    },
];

/// A person in a lift that is stuck (电梯停在2层中间，门打不开，里面有老人).
fn stuck_in_lift(text: &str) -> bool {
    const STUCK: &[&str] = &[
        "门打不开",
        "打不开门",
        "开不了门",
        "停在",
        "卡住",
        "卡在",
        "困",
        "关在",
        "出不来",
        "出不去",
        "不动了",
    ];
    const INSIDE: &[&str] = &[
        "里面有",
        "在里面",
        "里头有",
        "在里头",
        "我在",
        "我们在",
        "人在",
    ];
    text.contains("电梯")
        && STUCK.iter().any(|w| text.contains(w))
        && INSIDE.iter().any(|w| text.contains(w))
        && !text.contains("上次")
        && !text.contains("经常")
        && !text.contains("老是")
}

/// Whether two parts of [`PAIRS`] occur close together and not as prevention or denied.
fn paired(text: &str) -> bool {
    let within = |a: &str, b: &str, gap: usize| {
        text.match_indices(a).any(|(i, _)| {
            let head = &text[..i];
            if DENIED.iter().any(|d| head.ends_with(d)) || prevented(head) {
                return false;
            }
            let after: String = text[i + a.len()..].chars().take(gap + 6).collect();
            after
                .find(b)
                .is_some_and(|j| after[..j].chars().count() <= gap)
        })
    };
    PAIRS.iter().any(|p| {
        !p.unless.iter().any(|u| text.contains(u))
            && p.first.iter().any(|a| {
                p.second
                    .iter()
                    .any(|b| within(a, b, p.gap) || (p.either_order && within(b, a, p.gap)))
            })
    })
}

/// What the rules see about an emergency in normalised text and its pinyin.
pub fn emergency_cue(text: &str, pinyin: &[String]) -> EmergencyCue {
    if PREVENTION.iter().any(|p| text.contains(p)) {
        return EmergencyCue::default();
    }
    let mut strong = false;
    let mut weak = false;
    let mut after_past = false;
    // a phrase known to mean something else also rules out a match by sound
    let explained = NOT_EMERGENCY.iter().any(|w| text.contains(w));
    let calm = explained || LASTING.iter().any(|w| text.contains(w));
    let mut any_prevented = explained;
    let masked = NOT_EMERGENCY
        .iter()
        .fold(text.to_string(), |t, w| t.replace(w, "|"));
    let text = masked.as_str();
    for w in EMERGENCY_WORDS {
        for (i, _) in text.match_indices(w) {
            let head = &text[..i];
            if DENIED.iter().any(|d| head.ends_with(d))
                || MILDER_AFTER
                    .iter()
                    .any(|(word, before)| w == word && head.ends_with(before))
            {
                continue;
            }
            if prevented(head) {
                any_prevented = true;
                continue;
            }
            if WEAK_WORDS.contains(w) {
                weak = true;
            } else {
                strong = true;
            }
            // 中风过, 摔过: done before
            if text[i + w.len()..].starts_with('过') {
                after_past = true;
            }
        }
    }
    if lost_person(text) || paired(text) || stuck_in_lift(text) {
        strong = true;
    }
    if !strong && !weak && !any_prevented {
        let py: Vec<String> = pinyin.iter().map(|p| fuzzy(p)).collect();
        strong = EMERGENCY_SOUNDS.iter().any(|pat| {
            let pat: Vec<String> = pat.iter().map(|p| fuzzy(p)).collect();
            py.windows(pat.len()).any(|w| w == pat.as_slice())
        });
    }
    let hit = strong || weak;
    let unmasked = NOT_URGENT
        .iter()
        .fold(text.to_string(), |t, w| t.replace(w, "|"));
    let urgent = URGENT.iter().any(|u| unmasked.contains(u));
    let past = after_past
        || SETTLED.iter().any(|p| text.contains(p))
        || SERVICE_ASK.iter().any(|p| text.contains(p))
        || CONSEQUENCE.iter().any(|p| text.contains(p));
    EmergencyCue {
        hit,
        weak: hit && !strong,
        settled: hit && past && !urgent,
        urgent,
        calm: calm && !urgent,
    }
}

/// An emergency named only by words that often mean something else (中风, 掉下来, 打架;
/// [`EmergencyCue::weak`]) counts when the fused classifier gives an emergency at
/// least this probability, or something says it is happening now. Chosen on the
/// residents' training lines out of fold (see `examples/meaning.rs --em`).
pub const WEAK_EMERGENCY_MIN: f32 = 0.2;
/// With no emergency words (or only ones in the past: 上个月摔倒了), the classifier's
/// emergency reading counts only from this probability; below it the next intent is
/// read. Chosen likewise: needs told in serious words (no money, a frail parent alone)
/// stay what they are.
pub const CLASSIFIER_EMERGENCY_MIN: f32 = 0.6;
/// The same when the emergency words are in the past (上个月家里失火了，想申请救助): the
/// classifier hears the fire; the resident asks for help after it. Also when the cue is
/// [`EmergencyCue::calm`] (电梯坏了1个礼拜了，老人上不去下不来; 煤气灶打不着火).
pub const SETTLED_EMERGENCY_MIN: f32 = 0.9;

/// How an utterance stands towards an emergency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmergencyCall {
    /// The words name one happening now: act.
    Rule,
    /// No such words, but the classifier reads one strongly enough: a guess.
    Classifier,
    /// Not an emergency (whatever the classifier's top reading).
    No,
}

/// The emergency policy: the rules' cue and the classifier's probability of an emergency.
pub fn emergency_call(cue: &EmergencyCue, p_emergency: f32) -> EmergencyCall {
    if cue.hit && !cue.settled && (!cue.weak || cue.urgent || p_emergency >= WEAK_EMERGENCY_MIN) {
        EmergencyCall::Rule
    } else if p_emergency
        >= if cue.settled || cue.calm {
            SETTLED_EMERGENCY_MIN
        } else {
            CLASSIFIER_EMERGENCY_MIN
        }
    {
        EmergencyCall::Classifier
    } else {
        EmergencyCall::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize;

    fn cue(t: &str) -> EmergencyCue {
        let n = normalize(t);
        emergency_cue(&n.text, &n.pinyin)
    }

    #[test]
    fn danger_now_is_certain() {
        for t in [
            "我家老人摔倒了起不来",
            "着活了快来人",
            "厨房里一股煤气味",
            "楼道里有人拿着刀打起来了",
            "我老伴突然嘴歪了，说话不清楚",
            "孩子在商场里不见了",
            "我被关在电梯里出不来",
            "有人要跳楼",
            "厨房冒黑烟了",
            "我爸在山上被蛇咬了",
            "他说活够了，在屋里烧炭",
        ] {
            let c = cue(t);
            assert!(c.hit, "{t}: {c:?}");
            assert!(c.certain() || c.urgent, "{t}: {c:?}");
        }
    }

    #[test]
    fn the_past_prevention_and_denial_are_not_emergencies() {
        for t in [
            "我妈去年在浴室摔倒过，想装个扶手",
            "我爸中风以后走路不方便，残疾证怎么办",
            "上个月家里失火了，能申请救助吗",
            "卫生间想装防摔倒的扶手",
            "他们吵得很凶，没打人",
            "万一家里着火了怎么办",
            "想报名学学怎么救溺水的人",
            "总怕他再摔倒，想装个扶手",
            // numbers are digits after normalising (前两天 → 前2天, 摔过一次 → 摔过1次)
            "我爸前两天摔倒了，想问问能不能装扶手",
            "我妈摔过一次，想装个扶手",
        ] {
            let c = cue(t);
            assert!(!c.certain(), "{t}: {c:?}");
        }
        // ...but 消防 and 害怕 are not prevention, and a fire is still a fire
        for t in ["着火了，快叫消防", "我好害怕，他拿着刀要砍人"] {
            assert!(cue(t).certain(), "{t}: {:?}", cue(t));
        }
        // ...unless something says it is happening again now
        assert!(cue("去年摔过一次，刚才又摔倒了").urgent);
    }

    #[test]
    fn kinds_told_in_two_parts_are_emergencies() {
        for t in [
            "我外婆心口绞着疼，脸色煞白",
            "小孩掉进小区的水池里了",
            "孩子把洗衣液喝下去了",
            "我爸喝了农药",
            "电梯停在两层中间，门打不开，里面有老人",
            "我们被困在电梯里半个小时了",
            "楼道里全是烟，看不清路",
            "门口有人说要弄死我",
            "我家小孩在小区里玩，一转眼人就没影了",
            "我儿子下午出去到现在都联系不上",
            "我老伴在浴室里半天没出来，喊他也没动静",
            "阿拉爷爷倒辣地浪，叫伊勿应",
            "小孩被大狗咬了，腿上好几个洞",
            "电线着了",
            "有人在楼顶上要往下跳",
            "有个老人躺在路边一动不动",
        ] {
            let c = cue(t);
            assert!(c.certain(), "{t}: {c:?}");
        }
        for t in [
            "手机掉进水池里了",
            "我妈每天吃安眠药才能睡，医保能报吗",
            "想问问吃农药残留的菜会不会有事",
            "上次电梯停在半中间，里面有人，到现在还没修",
            "我妈1个人在家，找不到人照顾",
            "家里煤气灶老打不着火",
            "想装个烟雾报警器",
            "我妈腿脚不行了，1个人在家",
            "我腿上烫伤的疤还在，能评残疾吗",
            "我妈胸口老是闷，想找医生上门看看",
            "我叫他来，他说不应该他来",
            "我腿上烫伤的疤还在，能评残疾吗",
            "老人1个人在家头晕了好几回，想装个呼叫器",
            "孩子被狗咬过，打完疫苗了",
            "我睡着了没听见",
            "家里老人上厕所起不来身，想装个扶手",
            "我按了叫号半天没反应",
        ] {
            let c = cue(t);
            assert!(!c.certain(), "{t}: {c:?}");
        }
    }

    #[test]
    fn a_lasting_state_or_a_look_alike_needs_a_sure_classifier() {
        for t in [
            "电梯坏了1个礼拜了，老人上不去下不来",
            "家里煤气灶老打不着火",
        ] {
            let c = cue(t);
            assert!(c.calm && !c.hit, "{t}: {c:?}");
            assert_eq!(emergency_call(&c, 0.8), EmergencyCall::No, "{t}");
        }
        // a hazard that may come, with who answers for it, is a complaint
        let c = cue("楼道里堆满纸箱，真烧起来谁负责");
        assert!(c.settled, "{c:?}");
        assert_eq!(emergency_call(&c, 0.8), EmergencyCall::No);
    }

    #[test]
    fn a_lost_person_is_an_emergency_and_a_lost_thing_is_not() {
        assert!(lost_person("我孙子放学到现在没回来"));
        assert!(lost_person("老人走丢了"));
        assert!(!lost_person("孩子的社保卡不见了"));
        assert!(!lost_person("老人手机找不到了"));
        assert!(!lost_person("老人眼睛看不见了"));
        // prevention, and a loss that happened before
        assert!(!lost_person("想给孩子办个防走丢的手环"));
        assert!(!lost_person("孩子走丢过1次，想办个手环"));
    }

    #[test]
    fn the_policy_joins_words_and_the_classifier() {
        let strong = cue("我爸摔倒了起不来");
        let weak = cue("我爸中风了");
        let settled = cue("我爸上个月摔倒了，想装扶手");
        let none = cue("家里没钱交房租了");
        assert_eq!(emergency_call(&strong, 0.0), EmergencyCall::Rule);
        assert_eq!(emergency_call(&weak, 0.5), EmergencyCall::Rule);
        assert_eq!(emergency_call(&weak, 0.01), EmergencyCall::No);
        assert_eq!(emergency_call(&settled, 0.7), EmergencyCall::No);
        assert_eq!(emergency_call(&settled, 0.95), EmergencyCall::Classifier);
        assert_eq!(emergency_call(&none, 0.5), EmergencyCall::No);
        assert_eq!(emergency_call(&none, 0.8), EmergencyCall::Classifier);
    }
}
