"""Deterministic builder of the committed unit registry (单位名册) and county list.

The registry is reference data held by the Organization Department. It is generated from the name
lists below rather than typed by hand so that the counts fixed by the source (69 市直, 339 县直,
92 乡镇, base methods 25/10/5) are guaranteed by construction and a reviewer can read the lists.

    uv run python -m pipelines.domain.registry_builder [--out DIR]

rewrites `data/reference/units.csv` and `counties.csv` byte-identically.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from pipelines.domain.safe_cells import safe_rows
from pipelines.domain.template import LEVEL_LETTER
from pipelines.paths import REFERENCE_DIR

CITY_CODE = "371600"
CITY_GROUP = "市直"
UNIT_COLUMNS = ("unit_code", "unit_name", "level", "county", "county_code", "base_method")
COUNTY_COLUMNS = ("county_code", "county_name")

# Binzhou's seven county-level divisions in code order.
COUNTIES: tuple[tuple[str, str], ...] = (
    ("371602", "滨城区"),
    ("371603", "沾化区"),
    ("371621", "惠民县"),
    ("371622", "阳信县"),
    ("371623", "无棣县"),
    ("371625", "博兴县"),
    ("371681", "邹平市"),
)

# 69 municipal units (市直单位): Party organs, people's congress and CPPCC offices, government
# departments, courts and procuratorate, mass organisations; short names as used in Binzhou documents.
MUNICIPAL_UNITS: tuple[str, ...] = (
    "市委办公室", "市委组织部", "市委宣传部", "市委统战部", "市委政法委", "市纪委监委", "市委编办",
    "市委政研室", "市委网信办", "市委老干部局", "市直机关工委", "市委党校", "市委社会工作部",
    "市委巡察办", "市人大常委会办公室", "市政协办公室", "市政府办公室", "市发改委", "市教育局",
    "市科技局", "市工信局", "市公安局", "市民政局", "市司法局", "市财政局", "市人社局",
    "市自然资源和规划局", "市生态环境局", "市住建局", "市交通运输局", "市水利局", "市农业农村局",
    "市商务局", "市文旅局", "市卫健委", "市退役军人局", "市应急局", "市审计局", "市国资委",
    "市市场监管局", "市体育局", "市统计局", "市医保局", "市城管局", "市行政审批服务局", "市大数据局",
    "市信访局", "市海洋发展渔业局", "市能源局", "市机关事务服务中心", "市地方金融监管局",
    "市政府研究室", "市外办", "市投资促进局", "市住房公积金管理中心", "市供销社", "市档案馆",
    "市委党史研究院", "市中级人民法院", "市人民检察院", "市总工会", "团市委", "市妇联", "市科协",
    "市文联", "市社科联", "市工商联", "市残联", "市侨联",
)  # fmt: skip

# Differentiated base scores (差异化设置基础分). The article names 市城管局 (workload), 市发改委
# (section coefficient), 市公安局 and 市生态环境局 (category/post peers); the rest are chosen so that
# enforcement-heavy bureaus compare by post, economic departments with very different sections use
# section coefficients, and task-driven departments weight by workload.
CATEGORY_PEER = ("市公安局", "市生态环境局", "市市场监管局", "市交通运输局", "市应急局")
SECTION_COEFFICIENT = (
    "市发改委", "市财政局", "市工信局", "市商务局", "市人社局", "市自然资源和规划局", "市住建局",
    "市审计局", "市统计局", "市国资委",
)  # fmt: skip
WORKLOAD_WEIGHTED = (
    "市城管局", "市教育局", "市科技局", "市民政局", "市司法局", "市水利局", "市农业农村局", "市文旅局",
    "市卫健委", "市退役军人局", "市医保局", "市行政审批服务局", "市大数据局", "市信访局",
    "市海洋发展渔业局", "市能源局", "市政府办公室", "市委办公室", "市委组织部", "市委宣传部",
    "市委政法委", "市纪委监委", "市中级人民法院", "市人民检察院", "市机关事务服务中心",
)  # fmt: skip

# County/district departments (县(市区)直部门) every county has. An entry is appended to the county
# name, unless it contains "{c}", which marks where the county name goes.
COUNTY_CORE_DEPARTMENTS: tuple[str, ...] = (
    "委办公室", "人大常委会办公室", "人民政府办公室", "政协办公室", "纪委监委", "委组织部", "委宣传部",
    "委统战部", "委政法委", "委编办", "委网信办", "委老干部局", "直机关工委", "委社会工作部", "委党校",
    "发展和改革局", "教育和体育局", "科学技术局", "工业和信息化局", "公安局", "民政局", "司法局",
    "财政局", "人力资源和社会保障局", "自然资源和规划局", "住房和城乡建设局", "交通运输局", "水利局",
    "农业农村局", "商务局", "文化和旅游局", "卫生健康局", "退役军人事务局", "应急管理局", "审计局",
    "市场监督管理局", "统计局", "医疗保障局", "行政审批服务局", "综合行政执法局", "信访局",
    "人民法院", "人民检察院", "总工会", "妇联",
)  # fmt: skip

# Departments beyond the core, per county; sized so the counties total 339 (51+47+49+47+48+48+49).
COUNTY_EXTRA_DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "滨城区": ("共青团{c}委员会", "科协", "残联", "工商联", "委巡察办", "机关事务服务中心"),
    "沾化区": ("海洋发展渔业局", "共青团{c}委员会"),
    "惠民县": ("共青团{c}委员会", "科协", "残联", "档案馆"),
    "阳信县": ("共青团{c}委员会", "残联"),
    "无棣县": ("海洋发展渔业局", "共青团{c}委员会", "科协"),
    "博兴县": ("共青团{c}委员会", "科协", "工商联"),
    "邹平市": ("共青团{c}委员会", "科协", "工商联", "供销合作社"),
}

# Townships and streets (乡镇(街道)) by county, 92 in all; Binzhou's actual town and street names.
TOWNSHIPS: dict[str, tuple[str, ...]] = {
    "滨城区": (
        "市中街道", "市东街道", "市西街道", "北镇街道", "彭李街道", "小营街道", "滨北街道", "梁才街道",
        "杜店街道", "沙河街道", "里则街道", "青田街道", "杨柳雪镇", "三河湖镇", "秦皇台乡",
    ),
    "沾化区": (
        "富国街道", "富源街道", "海防街道", "下洼镇", "古城镇", "冯家镇", "泊头镇", "大高镇", "黄升镇",
        "滨海镇", "下河乡", "利国乡",
    ),
    "惠民县": (
        "孙武街道", "武定府街道", "何坊街道", "石庙镇", "桑落墅镇", "淄角镇", "胡集镇", "李庄镇",
        "麻店镇", "魏集镇", "清河镇", "姜楼镇", "辛店镇", "大年陈镇", "皂户李镇",
    ),
    "阳信县": (
        "信城街道", "金阳街道", "商店镇", "温店镇", "河流镇", "翟王镇", "流坡坞镇", "水落坡镇",
        "劳店镇", "洋湖乡",
    ),
    "无棣县": (
        "棣丰街道", "海丰街道", "水湾镇", "碣石山镇", "小泊头镇", "埕口镇", "马山子镇", "车王镇",
        "柳堡镇", "佘家镇", "信阳镇", "西小王镇",
    ),
    "博兴县": (
        "城东街道", "锦秋街道", "博昌街道", "曹王镇", "兴福镇", "陈户镇", "湖滨镇", "店子镇", "吕艺镇",
        "纯化镇", "庞家镇", "乔庄镇",
    ),
    "邹平市": (
        "黛溪街道", "黄山街道", "高新街道", "好生街道", "西董街道", "长山镇", "魏桥镇", "临池镇",
        "焦桥镇", "韩店镇", "孙镇", "九户镇", "青阳镇", "明集镇", "台子镇", "码头镇",
    ),
}  # fmt: skip

# Other Shandong prefecture cities for province-scale runs: (city prefix, city name, seven division
# names in the order of Binzhou's division suffixes 02/03/21/22/23/25/81). Real district/county names;
# cities with fewer than seven divisions are filled with their real development zones. No name
# repeats across cities, so unit names stay unique province-wide.
DIVISION_SUFFIXES = ("02", "03", "21", "22", "23", "25", "81")
SHANDONG_CITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("3701", "济南", ("历下区", "槐荫区", "天桥区", "历城区", "长清区", "平阴县", "章丘区")),
    ("3702", "青岛", ("市南区", "市北区", "黄岛区", "崂山区", "李沧区", "城阳区", "胶州市")),
    ("3703", "淄博", ("淄川区", "张店区", "博山区", "临淄区", "周村区", "桓台县", "高青县")),
    ("3704", "枣庄", ("市中区", "薛城区", "峄城区", "台儿庄区", "山亭区", "枣庄高新区", "滕州市")),
    ("3705", "东营", ("东营区", "河口区", "垦利区", "利津县", "广饶县", "东营开发区", "东营港开发区")),
    ("3706", "烟台", ("芝罘区", "福山区", "牟平区", "莱山区", "蓬莱区", "莱阳市", "龙口市")),
    ("3707", "潍坊", ("潍城区", "寒亭区", "坊子区", "奎文区", "临朐县", "昌乐县", "青州市")),
    ("3708", "济宁", ("任城区", "兖州区", "微山县", "鱼台县", "金乡县", "嘉祥县", "曲阜市")),
    ("3709", "泰安", ("泰山区", "岱岳区", "宁阳县", "东平县", "泰安高新区", "新泰市", "肥城市")),
    ("3710", "威海", ("环翠区", "文登区", "威海高区", "威海经区", "威海临港区", "乳山市", "荣成市")),
    ("3711", "日照", ("东港区", "岚山区", "五莲县", "莒县", "日照经开区", "山海天旅游度假区", "日照高新区")),
    ("3713", "临沂", ("兰山区", "罗庄区", "河东区", "沂南县", "郯城县", "沂水县", "兰陵县")),
    ("3714", "德州", ("德城区", "陵城区", "宁津县", "庆云县", "临邑县", "齐河县", "乐陵市")),
    ("3715", "聊城", ("东昌府区", "茌平区", "阳谷县", "莘县", "东阿县", "冠县", "临清市")),
    ("3717", "菏泽", ("牡丹区", "定陶区", "曹县", "单县", "成武县", "巨野县", "郓城县")),
)


def _base_method(unit_name: str) -> str:
    if unit_name in WORKLOAD_WEIGHTED:
        return "workload_weighted"
    if unit_name in SECTION_COEFFICIENT:
        return "section_coefficient"
    if unit_name in CATEGORY_PEER:
        return "category_peer"
    return "uniform"


def _county_department(county: str, entry: str) -> str:
    return entry.format(c=county) if "{c}" in entry else county + entry


def _township(county: str, town: str) -> str:
    if town.endswith("街道"):
        return f"{county}{town}办事处"
    return f"{county}{town}人民政府"


def build_units() -> list[dict[str, str]]:
    """Every unit of Binzhou as a row of UNIT_COLUMNS, sorted by unit_code."""
    rows: list[dict[str, str]] = []

    def add(division: str, level: str, county: str, names: list[str]) -> None:
        letter = LEVEL_LETTER[level]
        for i, name in enumerate(names, start=1):
            rows.append(
                {
                    "unit_code": f"{division}-{letter}-{i:03d}",
                    "unit_name": name,
                    "level": level,
                    "county": county,
                    "county_code": division,
                    "base_method": _base_method(name) if level == "市直" else "uniform",
                }
            )

    add(CITY_CODE, "市直", CITY_GROUP, list(MUNICIPAL_UNITS))
    for code, county in COUNTIES:
        departments = COUNTY_CORE_DEPARTMENTS + COUNTY_EXTRA_DEPARTMENTS[county]
        add(code, "县直", county, [_county_department(county, d) for d in departments])
        add(code, "乡镇", county, [_township(county, t) for t in TOWNSHIPS[county]])
    rows.sort(key=lambda r: r["unit_code"])
    return rows


def build_counties() -> list[dict[str, str]]:
    """The county groups: the city's own 市直 group first, then the seven divisions."""
    pairs = ((CITY_CODE, CITY_GROUP), *COUNTIES)
    return [{"county_code": code, "county_name": name} for code, name in pairs]


def _render(columns: tuple[str, ...], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    # A fixed "\n" terminator keeps the bytes identical on every platform.
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_rows(rows))  # no formula-like text in a CSV we write
    return buffer.getvalue().encode("utf-8")


def render_units_csv() -> bytes:
    return _render(UNIT_COLUMNS, build_units())


def render_counties_csv() -> bytes:
    return _render(COUNTY_COLUMNS, build_counties())


def write(directory: Path = REFERENCE_DIR) -> tuple[Path, Path]:
    """Write units.csv and counties.csv into `directory`; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    units, counties = directory / "units.csv", directory / "counties.csv"
    units.write_bytes(render_units_csv())
    counties.write_bytes(render_counties_csv())
    return units, counties


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rewrite the committed unit registry and county list.")
    parser.add_argument("--out", type=Path, default=REFERENCE_DIR, help="target directory")
    args = parser.parse_args(argv)
    for path in write(args.out):
        print(path)


if __name__ == "__main__":
    main()
