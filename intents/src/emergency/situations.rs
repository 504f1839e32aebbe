//! Emergencies told by more than one word: a person lost (孩子不见了), two parts close
//! together (叫他没反应, 喝了农药), a person in a stuck lift.

use super::context::prevented;
use super::words::DENIED;

/// A person who can be lost (孩子不见了, 老人找不到了); an object that is lost is not an
/// emergency (身份证不见了).
const PEOPLE: &[&str] = &[
    "孩子", "小孩", "娃", "小人", "小囡", "细人", "儿子", "女儿", "孙子", "孙女", "外孙", "老人",
    "老头", "老太", "奶奶", "爷爷", "外婆", "外公", "老伴", "我妈", "我爸", "老母", "老父", "囝",
    "仔", "阿爷", "阿公", "阿婆", "阿嬷", "囡仔", "孙女",
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
/// 老人手机找不到了) or not a loss at all (眼睛看不见了). The first, 的, only within
/// [`LOST_GAP`]: further off it is part of the story (我爸早上出的门，到现在没回来).
const LOST_THING: &[char] = &['的', '卡', '证', '本', '机', '钥', '包', '钱', '看', '票'];

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
    "到现在没回",
    "一转身人没了",
    "一转身就不见",
    "转身就不见",
    // in dialects: 还呒没回来 (Wu), 成日都未返 (Cantonese), 无看见矣 (Min Nan)
    "呒没回来",
    "都未返",
    "仲未返",
    "无看见了",
    "揣无",
];

/// Most characters between a person and a [`LOST_FAR`] phrase.
const LOST_FAR_GAP: usize = 16;

/// What follows 找不到人 when no one can be found to help (找不到人照顾), not a lost person.
const NO_HELPER: &[&str] = &[
    "照顾", "帮", "管", "陪", "看", "带", "接", "送", "问", "办", "说",
];

pub(super) fn lost_person(text: &str) -> bool {
    let lost_within = |after: &str, words: &[&str], gap: usize| {
        words.iter().any(|l| {
            after.find(l).is_some_and(|j| {
                let between = &after[..j];
                between.chars().count() <= gap
                    && !between.contains(if gap == LOST_FAR_GAP {
                        &LOST_THING[1..]
                    } else {
                        LOST_THING
                    })
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
    // gas escaping: a hiss or a strong smell by the gas (煤气灶那边嘶嘶响，闻着很冲)
    Pair {
        first: &["煤气", "燃气", "天然气", "液化气"],
        second: &[
            "嘶嘶",
            "很冲",
            "好冲",
            "味道好大",
            "味好大",
            "好大的味",
            "一股味",
        ],
        gap: 10,
        either_order: true,
        unless: &["报警器", "以前", "上次"],
    },
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
pub(super) fn stuck_in_lift(text: &str) -> bool {
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
        && !text.contains("老坏")
        // a supposition (万一有人关在里面怎么办): a complaint about the lift
        && !STUCK
            .iter()
            .filter_map(|w| text.find(w))
            .all(|i| prevented(&text[..i]))
}

/// Whether two parts of [`PAIRS`] occur close together and not as prevention or denied.
pub(super) fn paired(text: &str) -> bool {
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
