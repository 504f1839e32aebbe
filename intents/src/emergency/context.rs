//! What around an emergency word makes it no emergency now: learning or prevention
//! (防摔倒扶手, 消防演练), the past or a lasting state (上个月摔倒了), a service asked for
//! after it; and what says it is happening now (刚才, 快来).

/// Words anywhere that make the whole utterance about learning or preparing, not an
/// emergency (消防演练, 急救培训, 防诈骗讲座, 报名学急救).
pub(super) const PREVENTION: &[&str] = &["演练", "培训", "知识", "讲座", "课程", "报名", "隐患"];

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
    // a fear said in Cantonese or Min Nan (好惊跌亲, 真惊跋倒) and a supposition in Min Nan
    // (若是火烧厝)
    "好惊",
    "真惊",
    "惊跌",
    "惊跋",
    "若是",
    "真要",
];

/// Most characters between a [`PREVENTION_NEAR`] word and the hazard it is about.
const PREVENTION_GAP: usize = 8;

/// Words containing a [`PREVENTION_NEAR`] word that are not prevention (叫消防, 防盗门被撬,
/// 我好害怕).
const NOT_PREVENTION: &[&str] = &[
    "消防", "防盗", "害怕", "可怕", "好怕", "很怕", "怕死", "吓", "教室", "教训",
];

/// Whether the few characters before a hazard make it prevention or a supposition.
pub(super) fn prevented(head: &str) -> bool {
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
pub(super) const SETTLED: &[&str] = &[
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
    // the day before yesterday; taken to hospital already (前天晕倒送医院了)
    "前天",
    "送医院了",
    "送到医院了",
    "住院了",
    // a fire that is over (东西烧完了, 住都没得地方住)
    "烧完了",
    "没地方住",
    "没有地方住",
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
pub(super) const SERVICE_ASK: &[&str] = &[
    "扶手", "想装", "申请", "补贴", "补助", "想办", "办个", "办理", "报销", "评残",
];

/// Words that say it is happening now (刚才, 突然, 快来): they override [`SETTLED`].
pub(super) const URGENT: &[&str] = &[
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
pub(super) const NOT_URGENT: &[&str] = &["疤还在", "印子还在", "后遗症还在", "病根还在"];

/// A state that has lasted days or more (电梯坏了1个礼拜了, 腿疼好几天了): told with no
/// emergency words, it is a need or a complaint.
pub(super) const LASTING: &[&str] = &[
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

/// Words that ask who answers for a danger that may come (真烧起来谁负责): a complaint
/// about a hazard, read like an event in the past (the classifier must be very sure).
pub(super) const CONSEQUENCE: &[&str] = &[
    "谁负责",
    "谁来负责",
    "谁赔",
    "谁担责",
    "可怎么办",
    "砸到人谁管",
    "出了事谁管",
];
