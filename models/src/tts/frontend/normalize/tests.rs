//! The number rules, one sentence each.

use super::normalize;

fn check(cases: &[(&str, &str)]) {
    for (text, want) in cases {
        let got = normalize(text).replace(super::WORD_BREAK, "");
        assert_eq!(got, *want, "{text}");
    }
}

#[test]
fn times_say_the_part_of_the_day() {
    check(&[
        ("13:30", "下午一点半"),
        ("9:00", "上午九点"),
        ("8:05", "上午八点零五分"),
        ("14:45", "下午两点四十五分"),
        ("0:00", "凌晨零点"),
        ("下午13:30到18:00", "下午一点半到六点"),
        ("上午8:30到12:00", "上午八点半到中午十二点"),
        ("周末9:00到21:00", "周末上午九点到晚上九点"),
        ("早上8:00到晚上8:00", "早上八点到晚上八点"),
        ("中午11:00到12:30", "中午十一点到十二点半"),
        ("8:30-12:00", "上午八点半-中午十二点"),
        ("7:15:30", "上午七点十五分三十秒"),
    ]);
}

#[test]
fn impossible_times_are_plain_numbers() {
    check(&[("25:00", "二十五:"), ("比分3:2", "比分三:二")]);
}

#[test]
fn phone_id_and_receipt_numbers_digit_by_digit() {
    check(&[
        ("13812345678", "幺三八#3幺二三四#3五六七八"),
        ("138 1234 5678", "幺三八#3幺二三四#3五六七八"),
        ("0595-23865596", "零五九五#3二三八六#3五五九六"),
        (
            "11010519491231002X",
            "幺幺零幺零五#3幺九四九幺二三幺#3零零二叉",
        ),
        ("单号1234567", "单号幺二三#3四五六七"),
    ]);
}

#[test]
fn layouts_of_long_runs() {
    check(&[
        ("1234567", "幺二三#3四五六七"),
        ("123456789", "幺二三四#3五六七#3八九"),
        ("123456789012", "幺二三四#3五六七八#3九零幺二"),
    ]);
}

#[test]
fn emergency_numbers() {
    check(&[
        ("有危险先打110。", "有危险先打幺幺零。"),
        ("120、119", "幺二零、幺幺九"),
        ("110元", "一百一十元"),
        ("110个", "一百一十个"),
    ]);
}

#[test]
fn money_percent_and_counts() {
    check(&[
        ("20元", "二十元"),
        ("2.5元", "二点五元"),
        ("200元", "两百元"),
        ("12块5", "十二块五"),
        ("50%", "百分之五十"),
        ("3.5％", "百分之三点五"),
        ("1号窗口", "一号窗口"),
        ("2个", "两个"),
        ("第2个", "第二个"),
        ("2小时", "两小时"),
        ("2万", "两万"),
        ("2号", "二号"),
        ("200", "两百"),
        ("1/2", "二分之一"),
        ("5到20个工作日", "五到二十个工作日"),
        ("24小时", "二十四小时"),
        ("10000元", "一万元"),
    ]);
}

#[test]
fn dates() {
    check(&[
        ("2024年3月5日", "二零二四年三月五日"),
        ("12月8日下午2点", "十二月八日下午二点"),
        ("2024-03-05", "二零二四年三月五日"),
        ("98年", "九八年"),
        ("30年", "三十年"),
        ("2019-2020", "二零一九-二零二零"),
    ]);
}

#[test]
fn digit_strings_and_odd_input() {
    check(&[
        ("12348", "一二三四八"),
        ("１２号", "十二号"),
        ("", ""),
        ("ABC", "ABC"),
        ("00", ""),
    ]);
}

#[test]
fn huge_digit_runs_are_read_without_trouble() {
    let run = "9".repeat(20_000);
    for text in [
        run.clone(),
        format!("{run}元"),
        format!("{run}.5%"),
        format!("{run}:30"),
    ] {
        let out = normalize(&text).replace(super::GROUP_PAUSE, "");
        let digit = out.chars().position(|c| c.is_ascii_digit());
        assert!(
            digit.is_none(),
            "{:?}",
            out.chars()
                .skip(digit.unwrap_or(0).saturating_sub(5))
                .take(20)
                .collect::<String>()
        );
    }
}
