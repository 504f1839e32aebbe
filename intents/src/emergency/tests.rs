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
