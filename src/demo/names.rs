//! Word lists for synthetic names: people, streets, towns, communities, compounds, employers.
//!
//! Owns only vocabulary and the small pickers over it; it decides nothing about geometry.
//! None of these names refers to a real person, company or compound.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Common surnames, most frequent first (weights fall off with the index).
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "何", "罗", "徐", "孙", "胡", "朱",
    "马", "郭", "林", "唐", "高", "谢", "邓", "冯", "宋", "曾", "彭", "蒲", "苟", "向", "袁", "蒋",
    "杜", "曹", "许", "韩", "肖", "田", "董", "潘", "蔡", "余", "程", "魏", "苏", "吕", "丁", "任",
    "卢", "姚", "沈", "钟", "姜", "谭", "陆", "范", "汪", "廖", "石", "贾", "付", "方", "熊", "侯",
    "邱", "雷", "龙", "史", "陶", "贺", "毛", "龚", "文", "严", "母", "敬", "岳",
];

/// Given-name characters used mostly for men.
const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "斌", "鹏", "辉", "刚", "平", "建", "华",
    "国", "志", "文", "俊", "浩", "宇", "轩", "博", "晨", "阳", "林", "海", "峰", "波", "鑫", "飞",
    "成", "龙", "洋", "锋", "亮", "东", "旭", "昊", "睿", "泽", "子", "天", "宏", "家", "德", "福",
];

/// Given-name characters used mostly for women.
const GIVEN_FEMALE: &[&str] = &[
    "芳", "娟", "敏", "静", "丽", "艳", "娜", "霞", "秀", "英", "玲", "燕", "红", "梅", "琳", "婷",
    "雪", "慧", "颖", "欣", "悦", "怡", "佳", "萱", "雨", "梓", "涵", "诗", "琪", "晶", "倩", "洁",
    "兰", "萍", "凤", "琴", "云", "莉", "蓉", "月", "思", "嘉", "可", "馨",
];

/// Street-name stems; every line of a town's lattice gets a distinct one.
const STREET_STEMS: &[&str] = &[
    "嘉陵", "陵江", "凤凰", "龙泉", "石盘", "金桥", "银杏", "桂花", "明月", "锦江", "翠云", "新华",
    "建设", "和平", "文化", "科技", "创业", "兴业", "工业", "长安", "滨江", "南河", "北山", "东坝",
    "西城", "望江", "玉带", "白云", "青龙", "朝阳", "育才", "振兴", "团结", "人民", "解放", "花园",
    "杏林", "学府", "春晖", "秀水", "云峰", "顺城", "临江", "太平",
];

/// Stems for synthetic community names (towns other than the real one).
const COMMUNITY_STEMS: &[&str] = &[
    "青山", "白鹤", "枫林", "玉泉", "桃园", "柳湾", "望江", "新华", "东风", "红星", "长青", "松柏",
    "竹园", "梨园", "石桥", "清河", "南苑", "北坝", "东岳", "西山", "文昌", "兴隆", "永安", "长乐",
    "阳光", "锦绣", "金沙", "银河", "翠屏", "紫荆",
];

/// First characters of synthetic town names.
const TOWN_A: &[&str] = &[
    "青", "白", "金", "玉", "翠", "云", "清", "永", "长", "安", "宝", "福", "兴", "双", "三", "五",
    "丰", "新", "太", "石",
];

/// Second characters of synthetic town names.
const TOWN_B: &[&str] = &[
    "溪", "峰", "川", "坪", "坝", "岩", "湾", "桥", "河", "山", "源", "池", "塘", "林", "口", "江",
    "关", "台", "庄", "垭",
];

/// Stems for new residential compounds (no real developer brands).
const ESTATE_STEMS: &[&str] = &[
    "锦绣", "阳光", "御景", "翡翠", "天鹅", "凤栖", "滨江", "嘉陵", "盛世", "华府", "世纪", "君悦",
    "紫荆", "兰亭", "水岸", "半岛", "书香", "丽景", "宏达", "蓝湾", "东方", "星河", "万和", "怡景",
    "金域", "锦程", "泰和", "龙腾", "翠湖", "观澜",
];

/// Suffixes for new residential compounds.
const ESTATE_SUFFIXES: &[&str] = &[
    "花园", "家园", "苑", "名城", "华庭", "公馆", "雅居", "新城", "御府", "小区",
];

/// Old work units whose staff courtyards (家属院) make up old low-rise compounds.
const OLD_UNITS: &[&str] = &[
    "电机厂",
    "纺织厂",
    "粮站",
    "供销社",
    "水泥厂",
    "机械厂",
    "化工厂",
    "运输公司",
    "供电所",
    "农机站",
    "林业站",
    "邮电所",
    "卫生院",
    "棉麻公司",
    "食品站",
    "建筑公司",
    "煤建公司",
    "水电站",
    "物资公司",
    "木材厂",
    "酒厂",
    "砖瓦厂",
    "丝绸厂",
    "农资公司",
];

/// Stems for commercial compounds and companies.
const BUSINESS_STEMS: &[&str] = &[
    "恒信", "华川", "金鼎", "宏远", "新泰", "嘉禾", "瑞丰", "天成", "利达", "鼎盛", "兴川", "明珠",
    "安和", "众诚", "汇通", "聚源", "博远", "蜀韵", "创达", "永辉", "中联", "德润", "佳和", "盈科",
];

/// Industries for synthetic company names.
const INDUSTRIES: &[&str] = &[
    "电子",
    "建材",
    "物流",
    "食品",
    "机械",
    "医药",
    "商贸",
    "建筑工程",
    "信息技术",
    "农业科技",
    "汽车服务",
    "家政服务",
    "餐饮管理",
    "物业管理",
    "旅游开发",
    "新材料",
    "环保科技",
    "纺织",
];

/// Legal-form suffixes for synthetic company names.
const COMPANY_FORMS: &[&str] = &["有限公司", "有限责任公司", "股份有限公司"];

/// Picks one element uniformly.
pub(crate) fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list[rng.gen_range(0..list.len())]
}

/// A surname, frequent ones more often (Zipf-like weights).
pub(crate) fn surname(rng: &mut ChaCha8Rng) -> &'static str {
    // Weight 1/(i+6): draw by inverse transform over the cumulative sum.
    let total: f64 = (0..SURNAMES.len()).map(|i| 1.0 / (i as f64 + 6.0)).sum();
    let mut x = rng.gen::<f64>() * total;
    for (i, s) in SURNAMES.iter().enumerate() {
        x -= 1.0 / (i as f64 + 6.0);
        if x <= 0.0 {
            return s;
        }
    }
    SURNAMES[SURNAMES.len() - 1]
}

/// A one- or two-character given name for the given sex (`true` = male).
pub(crate) fn given_name(rng: &mut ChaCha8Rng, male: bool) -> String {
    let list = if male { GIVEN_MALE } else { GIVEN_FEMALE };
    let mut s = String::from(pick(rng, list));
    if rng.gen_bool(0.62) {
        // Second characters are sometimes shared between sexes, as in real names.
        let second = if rng.gen_bool(0.8) { list } else { GIVEN_MALE };
        s.push_str(pick(rng, second));
    }
    s
}

/// Street stems shuffled for one town; at least `n` of them.
pub(crate) fn street_stems(rng: &mut ChaCha8Rng, n: usize) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = STREET_STEMS.to_vec();
    shuffle(rng, &mut v);
    let mut out = Vec::with_capacity(n);
    let mut round = 0;
    while out.len() < n {
        for s in &v {
            if out.len() == n {
                break;
            }
            out.push(*s);
        }
        round += 1;
        assert!(round < 10, "street stem list must not be empty");
    }
    out
}

/// Distinct synthetic community stems for one town.
pub(crate) fn community_stems(rng: &mut ChaCha8Rng, n: usize) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = COMMUNITY_STEMS.to_vec();
    shuffle(rng, &mut v);
    v.truncate(n);
    v
}

/// Name of synthetic town number `k` (0-based), unique for `k < 400`.
pub(crate) fn town_name(k: usize) -> String {
    let a = k % TOWN_A.len();
    let b = (k / TOWN_A.len() + a) % TOWN_B.len();
    format!("{}{}镇", TOWN_A[a], TOWN_B[b])
}

/// How many synthetic town names exist.
pub(crate) const MAX_SYNTHETIC_TOWNS: usize = 400;

/// A new residential compound name.
pub(crate) fn estate(rng: &mut ChaCha8Rng) -> String {
    format!("{}{}", pick(rng, ESTATE_STEMS), pick(rng, ESTATE_SUFFIXES))
}

/// An old courtyard name: a work unit's staff quarters or a numbered yard on a street.
pub(crate) fn courtyard(rng: &mut ChaCha8Rng, street: &str) -> String {
    match rng.gen_range(0..3) {
        0 => format!("{}家属院", pick(rng, OLD_UNITS)),
        1 => format!("{}宿舍", pick(rng, OLD_UNITS)),
        _ => format!("{}{}号院", street, rng.gen_range(1..120)),
    }
}

/// A commercial compound name.
pub(crate) fn commercial(rng: &mut ChaCha8Rng) -> String {
    let kind = pick(
        rng,
        &[
            "商务大厦",
            "商业广场",
            "科创中心",
            "写字楼",
            "产业园",
            "商贸城",
        ],
    );
    format!("{}{}", pick(rng, BUSINESS_STEMS), kind)
}

/// A synthetic company name for the employer list.
pub(crate) fn company(rng: &mut ChaCha8Rng, place: &str) -> String {
    format!(
        "{}{}{}{}",
        place,
        pick(rng, BUSINESS_STEMS),
        pick(rng, INDUSTRIES),
        pick(rng, COMPANY_FORMS)
    )
}

/// A park name.
pub(crate) fn park(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{}{}",
        pick(
            rng,
            &[
                "滨河",
                "凤凰山",
                "翠屏",
                "人民",
                "龙潭",
                "桂花",
                "银杏",
                "湿地"
            ]
        ),
        pick(rng, &["公园", "广场", "游园"])
    )
}

/// Fisher-Yates shuffle driven by the given generator.
pub(crate) fn shuffle<T>(rng: &mut ChaCha8Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
}
