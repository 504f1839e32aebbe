//! Commands inside a form: where am I (还有几个问题), back one (上一步), skip (跳过),
//! a name spelled (名字怎么写), one field read again (手机号再念一遍).

use xiaoan_intents::Understanding;

use super::form::{ask_next, field_def, fields_of, form_reply, leave_blank, progress, resume_form};
use super::mediation::DANGER;
use super::readback::{corrected_field, spoken_value};
use super::state::{Flow, FormStage, FormState};
use super::values::plain;
use crate::dialogue::reply::Reply;
use crate::dialogue::session::Session;
use crate::dialogue::Agent;
use crate::forms::FieldKind;

const HOW_MANY_LEFT: &[&str] = &[
    "还有几个",
    "还有多少",
    "还剩几",
    "还剩多少",
    "还要多久",
    "还有几项",
    "第几项",
    "几个问题",
    "还有几条",
    "仲有几多",
    "仲有几",
    "还有几只",
    "还有好多个",
    "还有好多",
    "还剩好多",
    "仲有多少",
    "多少条问题",
    "多少个问题",
    "几多条",
];
const GO_BACK: &[&str] = &[
    "上一步",
    "上一个",
    "上一项",
    "上一题",
    "返回",
    "退回",
    "回到上",
];
const HOW_IS_IT_WRITTEN: &[&str] = &["怎么写", "哪个字", "哪几个字", "什么字", "咋写", "点写"];
const READ_AGAIN: &[&str] = &[
    "再念",
    "念一下",
    "念一遍",
    "是多少",
    "多少来着",
    "再说一下",
    "再说一遍",
    "是什么来着",
    "再讲一遍",
    "读一遍",
    "再读",
];

/// A form command (还有几个问题, 上一步, 跳过, 手机号再念一遍) while a form is open:
/// before the generic commands, which would read "再念一遍" as "repeat the last reply".
pub fn form_command_turn(a: &Agent, s: &mut Session, u: &Understanding) -> Option<Reply> {
    let Flow::Form(st) = s.flow.clone() else {
        return None;
    };
    match form_command(a, s, st, u) {
        Ok(r) => Some(r),
        Err(st) => {
            s.flow = Flow::Form(st);
            None
        }
    }
}

/// Commands inside a form. `Err` gives the form back when the words are none of these.
pub(super) fn form_command(
    a: &Agent,
    s: &mut Session,
    st: FormState,
    u: &Understanding,
) -> Result<Reply, FormState> {
    let said = plain(&u.normalized.text);
    let short = said.chars().count() <= 10;
    let has = |ws: &[&str]| ws.iter().any(|w| said.contains(w));
    if short && has(HOW_MANY_LEFT) {
        return Ok(how_many_left(a, s, st));
    }
    if short && has(GO_BACK) {
        return Ok(go_back(a, s, st));
    }
    if short && says_skip(&said) {
        if let Some(cur) = current_field(&st).filter(|c| c != DANGER) {
            return skip_field(a, s, st, &cur);
        }
    }
    let st = if has(HOW_IS_IT_WRITTEN) {
        match spell_field(a, s, st, u) {
            Ok(r) => return Ok(r),
            Err(st) => st,
        }
    } else {
        st
    };
    if has(READ_AGAIN) {
        return read_field(a, s, st, u);
    }
    Err(st)
}

/// The field asked now, while fields are being asked.
fn current_field(st: &FormState) -> Option<String> {
    match &st.stage {
        FormStage::Collect { current } => current.clone(),
        _ => None,
    }
}

/// "跳过", "先跳过", "下一个".
fn says_skip(said: &str) -> bool {
    said.starts_with("跳过") || said.starts_with("先跳过") || said == "下一个" || said == "下一项"
}

/// "还有几个问题": how many are left, counting the one asked; then the question again.
fn how_many_left(a: &Agent, s: &mut Session, st: FormState) -> Reply {
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let left = fields
        .iter()
        .filter(|f| !st.values.contains_key(&f.name))
        .count();
    let say = match (left, current_field(&st)) {
        (0, _) => "问题都问完了，就差您确认。".to_string(),
        (n, Some(c)) => format!("算上这一项，还有{n}个问题。{}", progress(fields, &c)),
        (n, None) => format!("还有{n}个问题。"),
    };
    resume_form(a, s, st, &say)
}

/// "上一步": the last answered field before the one asked is cleared and asked again.
fn go_back(a: &Agent, s: &mut Session, mut st: FormState) -> Reply {
    let fields = fields_of(&a.forms, &a.mediation, &st.form_id);
    let idx = current_field(&st)
        .and_then(|c| fields.iter().position(|f| f.name == c))
        .unwrap_or(fields.len());
    let Some(f) = fields[..idx]
        .iter()
        .rev()
        .find(|f| st.values.contains_key(&f.name))
    else {
        return resume_form(a, s, st, "这已经是第一项了。");
    };
    st.values.remove(&f.name);
    st.tries = 0;
    st.read_from = 0;
    st.stage = FormStage::Collect {
        current: Some(f.name.clone()),
    };
    let text = format!("好的，回到上一项。{}{}", progress(fields, &f.name), f.ask);
    form_reply(s, st, text)
}

/// "跳过": an optional field is left empty; a required one is put off to the end (or,
/// when it is the last one open, cannot be skipped). `Err`: the field is not in the
/// form.
fn skip_field(
    a: &Agent,
    s: &mut Session,
    mut st: FormState,
    cur: &str,
) -> Result<Reply, FormState> {
    let Some(def) = field_def(&a.forms, &a.mediation, &st.form_id, cur) else {
        return Err(st);
    };
    if !def.required {
        return Ok(leave_blank(a, s, st, &def.name));
    }
    let others = fields_of(&a.forms, &a.mediation, &st.form_id)
        .iter()
        .any(|f| f.name != cur && !st.values.contains_key(&f.name));
    if others {
        st.put_off.push(cur.to_string());
        return Ok(ask_next(
            a,
            s,
            st,
            "好的，这一项必须填，我们最后再说。".into(),
        ));
    }
    Ok(resume_form(a, s, st, "这一项必须填，不能跳过。"))
}

/// "名字怎么写": the field named (or the first name filled) spelled character by
/// character; then the question again. `Err`: no such value to spell.
fn spell_field(
    a: &Agent,
    s: &mut Session,
    st: FormState,
    u: &Understanding,
) -> Result<Reply, FormState> {
    let filled = |name: &str| st.values.get(name).is_some_and(|v| !v.is_empty());
    let named = corrected_field(a, &st.form_id, &u.normalized.text)
        .and_then(|n| field_def(&a.forms, &a.mediation, &st.form_id, &n))
        .filter(|d| filled(&d.name));
    let field = named.or_else(|| {
        fields_of(&a.forms, &a.mediation, &st.form_id)
            .iter()
            .find(|f| f.kind == FieldKind::PersonName && filled(&f.name))
    });
    let Some(def) = field else {
        return Err(st);
    };
    let v = st.values.get(&def.name).cloned().unwrap_or_default();
    let said = format!("{}是{v}：{}。", def.label, spell_out(&v));
    Ok(resume_form(a, s, st, &said))
}

/// "手机号再念一遍": the field named read back (or said to be empty); then the question
/// again. `Err`: the words name no field.
fn read_field(
    a: &Agent,
    s: &mut Session,
    st: FormState,
    u: &Understanding,
) -> Result<Reply, FormState> {
    let Some(def) = corrected_field(a, &st.form_id, &u.normalized.text)
        .and_then(|name| field_def(&a.forms, &a.mediation, &st.form_id, &name))
    else {
        return Err(st);
    };
    let said = match st.values.get(&def.name).filter(|v| !v.is_empty()) {
        Some(v) => format!("{}。", def.read_back(&spoken_value(a, def.kind, v))),
        None => format!("{}还没填。", def.label),
    };
    Ok(resume_form(a, s, st, &said))
}

/// Common characters of names and the words people use to say which one is meant.
const CHAR_WORDS: &[(char, &str)] = &[
    ('王', "三横一竖王"),
    ('李', "木子李"),
    ('张', "弓长张"),
    ('刘', "文刀刘"),
    ('陈', "耳东陈"),
    ('杨', "木易杨"),
    ('赵', "走肖赵"),
    ('黄', "草头黄"),
    ('周', "周末的周"),
    ('吴', "口天吴"),
    ('徐', "双人徐"),
    ('孙', "子小孙"),
    ('胡', "古月胡"),
    ('朱', "朱红的朱"),
    ('高', "高低的高"),
    ('林', "双木林"),
    ('何', "人可何"),
    ('郭', "城郭的郭"),
    ('马', "马上的马"),
    ('罗', "罗马的罗"),
    ('梁', "梁山的梁"),
    ('宋', "宋朝的宋"),
    ('郑', "郑重的郑"),
    ('谢', "谢谢的谢"),
    ('韩', "韩国的韩"),
    ('唐', "唐朝的唐"),
    ('冯', "两点水一个马的冯"),
    ('于', "于是的于"),
    ('董', "董事的董"),
    ('曹', "曹操的曹"),
    ('许', "言午许"),
    ('沈', "三点水的沈"),
    ('曾', "曾经的曾"),
    ('吕', "双口吕"),
    ('蒋', "草头蒋"),
    ('蔡', "蔡伦的蔡"),
    ('潘', "三点水的潘"),
    ('叶', "树叶的叶"),
    ('杜', "木土杜"),
    ('魏', "魏国的魏"),
    ('程', "程度的程"),
    ('苏', "江苏的苏"),
    ('丁', "甲乙丙丁的丁"),
    ('钱', "金钱的钱"),
    ('方', "方向的方"),
    ('石', "石头的石"),
    ('小', "大小的小"),
    ('大', "大小的大"),
    ('明', "明天的明"),
    ('红', "红色的红"),
    ('华', "中华的华"),
    ('伟', "伟大的伟"),
    ('玮', "王字旁的玮"),
    ('芳', "芬芳的芳"),
    ('敏', "敏捷的敏"),
    ('静', "安静的静"),
    ('丽', "美丽的丽"),
    ('强', "强大的强"),
    ('磊', "三个石头的磊"),
    ('军', "军人的军"),
    ('洋', "海洋的洋"),
    ('勇', "勇敢的勇"),
    ('艳', "鲜艳的艳"),
    ('杰', "杰出的杰"),
    ('娟', "女字旁的娟"),
    ('涛', "波涛的涛"),
    ('超', "超过的超"),
    ('秀', "优秀的秀"),
    ('霞', "彩霞的霞"),
    ('平', "平安的平"),
    ('刚', "刚才的刚"),
    ('晓', "春眠不觉晓的晓"),
    ('春', "春天的春"),
    ('文', "文化的文"),
    ('家', "家庭的家"),
    ('国', "国家的国"),
    ('建', "建设的建"),
    ('志', "志气的志"),
    ('英', "英雄的英"),
    ('玉', "玉石的玉"),
    ('兰', "兰花的兰"),
    ('梅', "梅花的梅"),
    ('雪', "下雪的雪"),
    ('海', "大海的海"),
    ('东', "东西的东"),
    ('亮', "明亮的亮"),
    ('新', "新旧的新"),
    ('宇', "宇宙的宇"),
    ('浩', "浩大的浩"),
    ('天', "天空的天"),
    ('佳', "佳节的佳"),
    ('欣', "欣赏的欣"),
    ('思', "思想的思"),
    ('晨', "早晨的晨"),
    ('阳', "太阳的阳"),
    ('辉', "光辉的辉"),
    ('鹏', "大鹏的鹏"),
    ('飞', "飞机的飞"),
    ('云', "白云的云"),
    ('凤', "凤凰的凤"),
    ('琳', "王字旁的琳"),
    ('婷', "女字旁的婷"),
    ('燕', "燕子的燕"),
    ('慧', "智慧的慧"),
    ('宁', "安宁的宁"),
    ('安', "平安的安"),
    ('福', "幸福的福"),
    ('德', "道德的德"),
    ('成', "成功的成"),
    ('民', "人民的民"),
    ('峰', "山峰的峰"),
    ('斌', "文武斌"),
    ('波', "波浪的波"),
    ('健', "健康的健"),
    ('俊', "英俊的俊"),
    ('秋', "秋天的秋"),
    ('冬', "冬天的冬"),
    ('夏', "夏天的夏"),
    ('月', "月亮的月"),
    ('星', "星星的星"),
    ('金', "金子的金"),
    ('珍', "珍珠的珍"),
    ('珠', "珍珠的珠"),
    ('美', "美丽的美"),
    ('玲', "王字旁的玲"),
    ('萍', "浮萍的萍"),
    ('颖', "聪颖的颖"),
    ('洁', "整洁的洁"),
    ('宏', "宏大的宏"),
];

/// A name spelled for the ear: "王小明" → "王，三横一竖王；小，大小的小；明，明天的明".
fn spell_out(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match CHAR_WORDS.iter().find(|(k, _)| *k == c) {
            Some((_, w)) => format!("{c}，{w}"),
            None => c.to_string(),
        })
        .collect::<Vec<_>>()
        .join("；")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_spelled_character_by_character() {
        assert_eq!(
            spell_out("赵晓红"),
            "赵，走肖赵；晓，春眠不觉晓的晓；红，红色的红"
        );
        assert_eq!(spell_out("龘"), "龘");
    }
}
