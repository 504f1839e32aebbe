//! Load time, memory and per-sentence time of the sentence encoder.
//!
//! ```sh
//! cargo run --release -p xiaoan-models --example embed_bench [-- MODEL_DIR]
//! ```
//!
//! Embeds about 200 short requests (8–30 characters, Mandarin and dialect wording) as
//! queries, one at a time, after loading `$XIAOAN_HOME/models/e5-small` (or MODEL_DIR),
//! and prints the load time, the resident memory the load adds (VmRSS) and the
//! median and 95th-percentile time per sentence.

use std::path::PathBuf;
use std::process::ExitCode;

use xiaoan_models::embed;

/// Openings a resident might use.
const OPENINGS: [&str; 5] = ["", "请问", "你好，", "俺想问下，", "麻烦问一下"];

/// What they ask about.
const REQUESTS: [&str; 40] = [
    "我妈八十多了能领什么补贴",
    "高龄津贴怎么申请",
    "狗证在哪里办",
    "居住证到哪里办理",
    "医保报销要带哪些材料",
    "楼上漏水物业不管怎么办",
    "孩子上小学要准备啥证件",
    "身份证丢了怎么补办",
    "低保怎么申请",
    "残疾人补贴去哪领",
    "社区有没有老年食堂",
    "燃气费在哪交",
    "户口迁移要什么手续",
    "电动车能不能在楼道充电",
    "邻居装修太吵了",
    "独居老人能申请上门探访吗",
    "退休金什么时候发",
    "养老保险断缴了咋办",
    "新生儿怎么上户口",
    "结婚登记要带什么",
    "垃圾分类哪天收大件",
    "小区停车位怎么租",
    "物业费能不能少交",
    "家里老人摔倒了怎么办",
    "疫苗接种在哪个卫生站",
    "失业了能领失业金吗",
    "租房合同要去哪备案",
    "社区医生几点上班",
    "俺娘腿脚不好能办护理补贴不",
    "阿婆有冇老人津贴攞呀",
    "侬好我想办居住证",
    "暖气不热找谁修",
    "下水道堵了找谁",
    "门口路灯坏了好几天",
    "想给老人申请助餐",
    "老年证怎么办",
    "公租房怎么排队",
    "社保卡丢了去哪补",
    "儿童医保怎么交",
    "困难家庭有啥救助",
];

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(embed::default_dir);
    let sentences: Vec<String> = OPENINGS
        .iter()
        .flat_map(|o| REQUESTS.iter().map(move |r| format!("{o}{r}")))
        .filter(|s| (8..=30).contains(&s.chars().count()))
        .collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    match embed::bench(&dir, &refs) {
        Ok(report) => {
            println!("model           {}", dir.display());
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("embed_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
