"""A realistic corpus of filled account plans, for the demo, the tests and the benchmarks.

:func:`make_plan` invents what a rep would type into one plan -- a Japanese manufacturer's
customer with its strategy, key persons, opportunities, activities, reviews and success
cases -- as a :class:`~xltools.model.PlanData`; :func:`write_corpus` writes ``n`` of them
through the real generator (``generate_workbook(..., prefill=plan)``), in parallel.

Everything is driven by the spec: every input field and every input column of every
table is filled (columns this module has no vocabulary for get a value of their type),
choices are drawn from the spec's choice lists (the company's, after
``settings.apply``), and messy variants use the spec's labels and aliases.  The only
hard-coded words are the Japanese sample vocabulary below.

Sizes follow a real organisation: 10-60 opportunities, 8-40 contacts, 5-50 activities
(skewed towards the small end), 3-8 initiatives, 0-3 success cases.  ``messy`` is the
share of typed values written the way people type (``１，２００万``, ``1.2億``, ``令和8年4月1日``,
``30%``, stance aliases, stray spaces, ``TBD``) and the chance of each deliberate mistake
per plan (see :data:`MISTAKES`).  Everything is deterministic for a given random
generator (``write_corpus``: for a given ``seed``, whatever the number of processes).
"""
from __future__ import annotations

import math
import os
import random
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import XltoolsError
from .model import PlanData, Row
from .periods import Period, parse_period
from .spec import Field, Spec, Table

__all__ = ["MISTAKES", "Account", "CorpusEntry", "make_plan", "make_plan_pair", "corpus_entries", "entry_rng",
           "make_entry_plan", "entry_info", "write_entries", "write_corpus", "write_roster", "advance_plan"]

#: the deliberate mistakes :func:`make_plan` can put into a plan, and the issue each causes
MISTAKES: dict[str, str] = {
    "missing_required": "E-REQUIRED",       # an opportunity without an amount
    "unknown_contact": "E-UNKNOWN-CONTACT",  # an activity with someone not in Contacts
    "low_coverage": "W-COVERAGE-LOW",       # pipeline below 3x the target
    "bad_choice": "E-CHOICE",               # a stance nobody can read
}

# -- Japanese sample vocabulary --------------------------------------------------------------
_NAME_HEADS = (
    "東邦", "大和", "北陸", "中央", "日東", "三洋", "富士", "昭和", "関西", "東亜", "新明", "丸和",
    "旭", "協和", "太平", "明治", "大同", "日新", "住吉", "高砂", "岡谷", "千代田", "北斗", "瀬戸内",
    "浜松", "信越", "九州", "東北", "山陽", "常磐", "白鷺", "若葉", "朝日", "菱和", "東洋", "日本",
    "国際", "帝都", "京浜", "阪神", "湘南", "筑波", "相模", "武蔵", "房総", "紀州", "伊勢", "出雲",
)
_NAME_TAILS: tuple[tuple[str, str], ...] = (  # (business word, industry key)
    ("精機", "manufacturing"), ("製作所", "manufacturing"), ("工業", "manufacturing"),
    ("機械", "manufacturing"), ("金属", "manufacturing"), ("重工", "manufacturing"),
    ("化学", "chemicals"), ("樹脂", "chemicals"), ("マテリアル", "chemicals"), ("塗料", "chemicals"),
    ("電機", "electronics"), ("電子", "electronics"), ("光学", "electronics"), ("計器", "electronics"),
    ("自動車部品", "automotive"), ("オートパーツ", "automotive"), ("車体", "automotive"),
    ("食品", "food"), ("製菓", "food"), ("乳業", "food"), ("醸造", "food"),
    ("物産", "retail"), ("商事", "retail"), ("ストアーズ", "retail"),
    ("情報システム", "it"), ("ソフトウェア", "it"), ("通信", "it"),
    ("建設", "construction"), ("住宅", "construction"), ("運輸", "logistics"), ("ロジスティクス", "logistics"),
    ("電力", "energy"), ("ガス", "energy"), ("製薬", "healthcare"), ("メディカル", "healthcare"),
    ("保険", "finance"), ("リース", "finance"), ("サービス", "services"), ("ビルメンテナンス", "services"),
)
_PLACES = (
    "北海道", "東日本", "西日本", "中部", "近畿", "四国", "南九州", "新潟", "静岡", "広島", "岡山", "熊本",
    "仙台", "金沢", "富山", "長野", "岐阜", "三重", "滋賀", "奈良", "福井", "山形", "秋田", "青森",
)
_FORMS = ("株式会社{}", "{}株式会社", "株式会社{}", "{}株式会社", "{}ホールディングス株式会社")
_HQ = (
    "東京都千代田区", "東京都港区", "東京都中央区", "東京都品川区", "大阪府大阪市北区", "大阪府大阪市中央区",
    "愛知県名古屋市中村区", "愛知県豊田市", "神奈川県横浜市西区", "神奈川県川崎市", "静岡県浜松市",
    "兵庫県神戸市", "京都府京都市下京区", "福岡県福岡市博多区", "広島県広島市", "宮城県仙台市",
    "埼玉県さいたま市", "新潟県新潟市", "長野県諏訪市", "富山県富山市",
)
_SURNAMES = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
    "佐々木", "山口", "松本", "井上", "木村", "林", "清水", "山崎", "森", "池田", "橋本", "阿部",
    "石川", "山下", "中島", "石井", "小川", "前田", "岡田", "長谷川", "藤田", "後藤", "近藤", "村上",
    "遠藤", "青木", "坂本", "斉藤", "福田", "太田", "西村", "藤井", "金子", "岡本", "藤原", "中野",
)
_GIVEN = (
    "太郎", "健一", "誠", "浩", "大輔", "直樹", "翔太", "美咲", "陽子", "恵子", "裕子", "由美",
    "拓也", "亮", "達也", "和也", "隆", "聡", "智子", "真由美", "明美", "健太", "剛", "修",
    "一郎", "健二", "秀樹", "正人", "洋平", "さくら", "愛", "彩", "舞", "優子", "理恵", "学",
)
_DEPARTMENTS = (
    "購買部", "生産技術部", "情報システム部", "経営企画部", "品質保証部", "製造部", "研究開発部",
    "設計部", "物流部", "総務部", "経理部", "営業企画部", "人事部", "DX推進室", "環境推進部", "調達本部",
)
#: (title, level): 0 executive, 1 general manager, 2 manager, 3 staff
_TITLES = (
    ("代表取締役社長", 0), ("取締役", 0), ("常務執行役員", 0), ("執行役員", 0),
    ("本部長", 1), ("部長", 1), ("副部長", 1), ("室長", 1),
    ("次長", 2), ("課長", 2), ("グループリーダー", 2),
    ("係長", 3), ("主任", 3), ("担当", 3),
)
#: role keys by level (weights follow the list order)
_ROLES_BY_LEVEL = {0: ("decision_maker",), 1: ("decision_maker", "champion", "influencer"),
                   2: ("champion", "influencer", "evaluator"), 3: ("user", "gatekeeper", "evaluator")}
#: initiative -> (department, investment area, our value hypothesis, challenge, value delivered)
_INITIATIVES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("在庫削減", "購買部", "サプライチェーン", "需要予測の精度向上で在庫回転日数を短縮できる",
     "欠品を恐れて過剰在庫が常態化し、在庫回転日数が業界平均を大きく上回っていた", "在庫を{pct}%削減し、キャッシュフローを改善"),
    ("DX推進", "DX推進室", "デジタル基盤", "現場データの一元化で意思決定を速くできる",
     "部門ごとにExcelで管理しており、経営数値の集計に毎月10日以上かかっていた", "月次集計を{days}日短縮、経営会議の資料作成を自動化"),
    ("脱炭素", "環境推進部", "省エネ・再エネ", "CO2排出量の可視化と省エネ設備更新で削減目標に貢献できる",
     "取引先からCO2排出量の開示を求められているが、工場ごとの排出量を把握できていなかった", "CO2排出量を{pct}%削減、開示対応を自動化"),
    ("生産性向上", "生産技術部", "スマート工場", "設備稼働データの分析で停止時間を減らせる",
     "設備の突発停止が多く、稼働率が計画を下回っていた", "設備稼働率を{pct}ポイント改善"),
    ("品質向上", "品質保証部", "検査自動化", "画像検査AIで検査工数と流出不良を同時に減らせる",
     "目視検査に頼っており、検査員不足と不良流出が課題だった", "流出不良ゼロを{months}か月継続、検査工数を{pct}%削減"),
    ("働き方改革", "人事部", "業務効率化", "定型業務の自動化で残業時間を削減できる",
     "間接部門の残業が多く、採用難で人員も増やせなかった", "間接部門の残業時間を{pct}%削減"),
    ("サプライチェーン強靭化", "調達本部", "調達リスク管理", "調達先の可視化と複線化でBCPを強化できる",
     "特定の調達先に依存しており、災害時に生産が止まるリスクがあった", "主要部材の複線化を{months}か月で完了"),
    ("海外展開", "経営企画部", "海外拠点", "海外拠点の基幹システム統一でガバナンスを強化できる",
     "海外拠点ごとにシステムが異なり、連結決算に時間がかかっていた", "連結決算を{days}日早期化"),
    ("原価低減", "経理部", "コスト管理", "製品別原価の見える化で採算改善を支援できる",
     "製品別の原価が見えず、不採算製品を特定できていなかった", "不採算製品の見直しで営業利益率を{pct}ポイント改善"),
    ("スマート工場化", "製造部", "IoT", "IoTで設備と人の動きをつなぎ、段取り替え時間を短縮できる",
     "多品種少量生産で段取り替えが多く、生産性が伸び悩んでいた", "段取り替え時間を{pct}%短縮"),
    ("セキュリティ強化", "情報システム部", "サイバーセキュリティ", "工場ネットワークを含む監視体制を提供できる",
     "取引先がランサムウェア被害に遭い、自社の工場ネットワークの脆弱性が懸念された", "セキュリティ監視を{months}か月で全拠点に展開"),
    ("基幹システム刷新", "情報システム部", "ERP", "クラウドERPへの移行で保守費用を削減できる",
     "基幹システムの老朽化で保守費用が膨らみ、改修にも時間がかかっていた", "システム保守費用を年間{pct}%削減"),
    ("物流効率化", "物流部", "物流", "配送計画の最適化で積載率を上げられる",
     "配送ルートが担当者の経験頼みで、積載率が低くドライバー不足も深刻だった", "配送コストを{pct}%削減"),
    ("新製品開発", "研究開発部", "研究開発", "シミュレーション環境で試作回数を減らせる",
     "試作の回数が多く、新製品の開発期間が競合より長かった", "開発期間を{months}か月短縮"),
    ("人材育成", "人事部", "教育", "技能伝承の仕組みづくりを支援できる",
     "熟練者の退職が続き、技能伝承が追いついていなかった", "新人の立ち上がり期間を{months}か月短縮"),
)
#: solution, products, initiative keywords it serves
_SOLUTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("需要予測AI", "需要予測クラウド", ("在庫削減", "サプライチェーン強靭化")),
    ("在庫最適化システム", "在庫管理パッケージ", ("在庫削減", "原価低減")),
    ("IoT設備監視", "IoTゲートウェイ・監視SaaS", ("生産性向上", "スマート工場化", "脱炭素")),
    ("予知保全ソリューション", "振動センサー・分析サービス", ("生産性向上", "スマート工場化")),
    ("生産管理システム", "生産管理パッケージ", ("スマート工場化", "原価低減", "DX推進")),
    ("クラウドERP", "クラウドERP", ("基幹システム刷新", "海外展開", "DX推進")),
    ("RPA導入支援", "RPAライセンス・導入支援", ("働き方改革", "DX推進")),
    ("省エネ診断サービス", "省エネ診断・設備更新", ("脱炭素",)),
    ("CO2排出量可視化", "CO2可視化クラウド", ("脱炭素",)),
    ("太陽光PPA", "自家消費型太陽光", ("脱炭素",)),
    ("画像検査AI", "AI外観検査装置", ("品質向上", "生産性向上")),
    ("セキュリティ監視サービス", "SOC監視サービス", ("セキュリティ強化",)),
    ("工場ネットワーク更改", "産業用ネットワーク機器", ("セキュリティ強化", "スマート工場化")),
    ("倉庫管理システム", "WMS", ("物流効率化", "在庫削減")),
    ("配送最適化", "配車計画クラウド", ("物流効率化",)),
    ("受発注EDI", "EDIサービス", ("サプライチェーン強靭化", "DX推進")),
    ("BIダッシュボード", "BIツール・データ基盤", ("DX推進", "原価低減", "在庫削減")),
    ("電子帳票システム", "電子帳票・ワークフロー", ("働き方改革", "DX推進")),
    ("CAE解析環境", "解析ソフトウェア・HPC", ("新製品開発",)),
    ("技能伝承動画マニュアル", "動画マニュアル作成ツール", ("人材育成", "品質向上")),
)
_OPP_PATTERNS = ("{dept}向け{sol}導入", "{sol}更新", "{sol}全社展開", "{init}支援（{sol}）",
                 "{sol}PoC", "{plant}{sol}", "{sol}追加ライセンス", "{sol}保守契約更新")
_PLANTS = ("本社工場", "第二工場", "九州工場", "東北工場", "海外拠点", "物流センター", "研究所", "全社")
_NEXT_STEPS = ("見積提出", "デモ実施", "PoC計画の合意", "役員プレゼン", "稟議支援", "要件ヒアリング",
               "導入スケジュール合意", "価格再提示", "技術検証の結果報告", "契約書ドラフト送付")
_PURPOSES = ("定例訪問", "課題ヒアリング", "提案プレゼン", "役員面談", "工場見学", "見積説明",
             "導入効果の報告", "技術説明会", "トップ会談", "契約条件の協議", "年間計画の共有", "PoC結果報告")
_RESULTS = ("先方の課題を再確認。次回は具体的な提案を持参する。", "提案内容に前向きな反応。見積依頼を受けた。",
            "予算化は来期の見込み。情報収集を継続する。", "役員同士で中期的な協業に合意。",
            "競合の提案と比較検討中とのこと。差別化ポイントを整理する。", "PoCの実施について合意。",
            "キーマンが異動予定と判明。後任者の情報を確認する。", "現場の反対意見あり。導入効果を数値で示す。")
_OUR_EXECUTIVES = ("専務 高木", "常務 野村", "取締役 営業本部長 松井", "執行役員 西田", "社長 大西")
_OUR_STAFF = ("SE 岡", "SE 三浦", "SE 久保", "SE 原田", "地域営業 北村", "地域営業 菅原",
              "地域営業 今井", "技術営業 千葉", "カスタマーサクセス 宮本", "SE 横山")
_COMPETITORS = ("A社（外資系ITベンダー）", "B社（国内SIer）", "C社（専業ベンダー）", "D社（商社系）",
                "E社（スタートアップ）", "F社（メーカー系子会社）")
#: industry key -> (main business, main products); other industries take any entry
_BUSINESS: dict[str, tuple[str, str]] = {
    "manufacturing": ("産業用機械の製造・販売", "精密減速機、産業用ロボット部品、工作機械"),
    "automotive": ("自動車向け部品の製造", "ブレーキ部品、樹脂成形品、ワイヤーハーネス"),
    "electronics": ("電子部品・モジュールの開発製造", "センサー、電源モジュール、半導体製造装置部品"),
    "chemicals": ("機能性化学品の製造", "機能性フィルム、接着剤、塗料"),
    "food": ("加工食品の製造・販売", "冷凍食品、調味料、飲料"),
    "retail": ("産業資材・消費財の卸売", "産業資材、日用品、業務用食材"),
    "it": ("情報システムの開発・運用", "業務システム開発、データセンター、通信サービス"),
    "construction": ("建設・不動産開発", "住宅設備、建材、商業施設の開発"),
    "logistics": ("物流・倉庫事業", "3PL、倉庫運営、国際輸送"),
    "energy": ("電力・ガスの供給", "電力小売、都市ガス、再生可能エネルギー"),
    "healthcare": ("医薬品・医療機器の研究開発・製造", "医療機器、診断薬、ジェネリック医薬品"),
    "finance": ("リース・保険事業", "設備リース、損害保険"),
    "services": ("ビル管理・業務サービス", "施設管理、清掃、警備"),
}
_CUSTOMERS = ("国内自動車メーカー各社", "大手電機メーカー", "大手小売チェーン", "官公庁・自治体",
              "海外の完成車メーカー", "国内外の半導体メーカー", "建設会社・ゼネコン", "医療機関・病院")
_SITUATIONS = ("前期は増収減益。原材料高騰で利益率が低下し、原価低減を最重要課題としている。",
               "新中期経営計画でDXと脱炭素を二本柱に掲げた。",
               "4月に組織改編があり、生産技術部と製造部が統合された。",
               "海外売上比率が50%を超え、海外拠点のガバナンス強化を進めている。",
               "主要顧客の生産調整の影響で減収。コスト構造の見直しを進めている。",
               "過去最高益を更新。設備投資を前年比2割増やす計画。")
_STRATEGIES = ("中期経営計画「Vision 2030」：売上高{rev}億円、営業利益率10%、CO2排出量を2030年までに半減。",
               "「変革と成長」を掲げ、既存事業の収益力強化と新規事業の創出を進める。DX投資を3年で{inv}億円。",
               "脱炭素とデジタルを成長の柱とし、海外売上比率を60%に高める。",
               "選択と集中：不採算事業から撤退し、高付加価値製品へシフトする。")
_SOURCES = ("中期経営計画（IR資料）", "決算説明会資料", "統合報告書", "社長インタビュー記事", "先方部長へのヒアリング",
            "業界紙", "有価証券報告書")
_FACTORS = ("現場のキーマンを早期に巻き込み、課題を数値で共有した", "役員同行でトップの合意を先に得た",
            "小さなPoCで効果を示してから全社展開した", "他社の在庫削減事例を紹介して不安を解消した",
            "導入後の運用まで伴走する体制を提示した", "SEと営業のチームで複数部門を同時にカバーした")
_REVIEW_ITEMS = ("キーマン面談", "提案件数", "役員面談の実施", "PoC提案", "組織図の更新", "見積提出",
                 "在庫削減提案", "脱炭素提案")
_CAUSES = ("先方の繁忙期と重なりアポが取れなかった", "提案内容が課題とずれていた", "キーマンの異動で検討が止まった",
           "社内の見積作成が遅れた", "競合が先行していた")
_ACTIONS = ("役員同行で再訪問する", "課題ヒアリングをやり直す", "後任キーマンとの面談を設定する",
            "見積テンプレートを整備する", "差別化資料を作成する")
_NOTES = ("予算は来期申請予定", "競合と比較中", "現場は前向き", "決裁は役員会", "過去に失注歴あり",
          "担当者が変わったばかり", "他部門にも横展開の可能性")
#: text a rep might start with a formula character (written as text, never a formula)
_FORMULA_LIKE = ("=先方回答待ち", "=前回見積と同条件", "+α提案を検討", "-価格は再調整", "@山田さんに確認",
                 "=SUM(A1:A3)の件は再確認")
_RATIONALES = ("売上規模が大きい", "成長市場で投資意欲が高い", "業界のリーダー企業", "当社との関係が深い",
               "他社への横展開が期待できる", "取引実績はまだ小さい", "利益率が高く値引き要求が少ない")
_PLACEHOLDERS = ("TBD", "未定", "-")
_TYPO_SUFFIX = ("。", "です", "（要確認）", "?!")


@dataclass(frozen=True)
class Account:
    """A customer account of the corpus."""

    name: str
    account_id: str
    industry: str | None = None  # an industry choice key, when the name suggests one


@dataclass(frozen=True)
class CorpusEntry:
    """One plan to write: who, for whom, which period, in which language."""

    index: int
    account: Account
    rep: str
    team: tuple[str, ...]
    lang: str
    period: str
    target: int | None = None  # yen, as ops set it in the roster

    @property
    def filename(self) -> str:
        """``FY2026Q3_<account>_<rep>.xlsx``, as ``xltools generate`` names plans."""
        from .naming import plan_filename

        return plan_filename(self.period, self.account.name, self.rep)


# -- the plan ----------------------------------------------------------------------------------

def _weighted(rng: random.Random, items: Sequence, weights: Sequence[float]):
    return rng.choices(items, weights=weights, k=1)[0]


def _size(rng: random.Random, lo: int, hi: int, mode: int, cap: int) -> int:
    """A size skewed towards ``mode`` (most plans are small, a few are large)."""
    return max(1, min(cap, int(round(rng.triangular(lo, hi, mode)))))


def _round_to(x: float, step: int) -> int:
    return max(step, int(round(x / step)) * step)


def _reiwa(d: date) -> tuple[int, int, int]:
    return d.year - 2018, d.month, d.day


def _fullwidth(s: str) -> str:
    return s.translate({i: i + 0xFEE0 for i in range(0x21, 0x7F)})


def solution_key(spec: Spec, product: str) -> str:
    """The company's solution a product belongs to (a key of the spec's ``solution`` list,
    found through its aliases); the product name when the list does not know it."""
    from .normalize import NormalizeError, parse_choice

    try:
        return parse_choice(product, spec.choices("solution"))
    except NormalizeError:
        return product


class _Maker:
    """Invents one plan; holds the random generator and the spec context."""

    def __init__(self, rng: random.Random, spec: Spec, settings: Settings, *, account: Account,
                 rep: str, team: Sequence[str], period: Period, lang: str, messy: float, as_of: date,
                 mistakes: set[str]):
        self.rng, self.spec, self.settings = rng, spec, settings
        self.account, self.rep, self.team, self.period = account, rep, tuple(team), period
        self.lang, self.messy, self.as_of, self.mistakes = lang, messy, as_of, mistakes
        self.fy = period.year
        self.products: list[str] = []  # the products of the opportunities (our business)

    # -- random helpers ---------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq: Sequence):
        return self.rng.choice(seq)

    def choice_key(self, list_name: str, weights: dict[str, float] | None = None) -> str:
        keys = self.spec.choices(list_name).keys()
        if weights:
            return _weighted(self.rng, keys, [weights.get(k, 0.2) for k in keys])
        return self.pick(keys)

    def person(self, taken: set[str]) -> str:
        for _ in range(200):
            name = f"{self.pick(_SURNAMES)} {self.pick(_GIVEN)}"
            if name not in taken:
                taken.add(name)
                return name
        raise XltoolsError("corpus: ran out of distinct person names")

    def day_between(self, lo: date, hi: date) -> date:
        span = (hi - lo).days
        return lo + timedelta(days=self.rng.randint(0, max(0, span)))

    def amount(self, lo: float, hi: float, step: int = 100_000) -> int:
        """Yen, log-uniform between lo and hi, rounded to ``step``."""
        return _round_to(math.exp(self.rng.uniform(math.log(lo), math.log(hi))), step)

    # -- the parts of a plan ------------------------------------------------------------------
    def themes(self, items: Sequence, k: int) -> list:
        """``k`` distinct items, the first three (the themes every company talks about:
        在庫削減, DX推進, 脱炭素) three times as likely as the others."""
        pool = list(items)
        weights = [3.0 if i < 3 else 1.0 for i in range(len(pool))]
        out = []
        for _ in range(min(k, len(pool))):
            i = self.rng.choices(range(len(pool)), weights=weights, k=1)[0]
            out.append(pool.pop(i))
            weights.pop(i)
        return out

    def initiatives(self) -> list[dict]:
        n = self.rng.randint(3, min(8, self.spec.table("Initiatives").rows))
        rows = []
        for i, (name, dept, area, hyp, _c, _v) in enumerate(self.themes(_INITIATIVES, n)):
            rows.append({
                "initiative": name, "department": dept, "investment_area": area,
                "horizon": self.choice_key("horizon", {"short": 0.3, "mid": 0.5, "long": 0.2}),
                "budget_scale": self.amount(2e7, 5e9, 1_000_000) if self.chance(0.7) else None,
                "our_hypothesis": hyp,
                "priority": self.choice_key("level", {"high": 0.4, "mid": 0.4, "low": 0.2}),
                "source": self.pick(_SOURCES),
            })
        return rows

    def contacts(self) -> list[dict]:
        n = _size(self.rng, 8, 40, 14, self.spec.table("Contacts").rows)
        taken: set[str] = set()
        depts = self.rng.sample(_DEPARTMENTS, self.rng.randint(3, 7))
        rows: list[dict] = []
        heads: dict[str, str] = {}  # department -> its general manager
        execs: list[str] = []
        for i in range(n):
            level = 0 if i < max(1, n // 10) else 1 if i < n // 3 else self.rng.choice((2, 2, 3))
            title = self.pick([t for t, lv in _TITLES if lv == level])
            dept = "経営層" if level == 0 else self.pick(depts)
            name = self.person(taken)
            if level == 0:
                boss = execs[0] if execs else None
                execs.append(name)
            elif level == 1:
                boss = self.pick(execs) if execs else None
                heads.setdefault(dept, name)
            else:
                boss = heads.get(dept) or (self.pick(execs) if execs else None)
            roles = _ROLES_BY_LEVEL[level]
            stance = self.choice_key("stance", {"favourable": 0.35, "neutral": 0.35, "against": 0.1,
                                                "unknown": 0.2})
            rows.append({
                "contact_id": f"P{i + 1:03d}", "name": name, "department": dept, "title": title,
                "reports_to": boss,
                "role": _weighted(self.rng, roles, [3, 2, 1][:len(roles)]),
                "stance": stance,
                "influence": ("high", "high", "mid", "low")[level] if self.chance(0.8) else self.choice_key("level"),
                "relationship": self.rng.randint(1, 5) if stance != "unknown" else self.rng.randint(1, 2),
                "our_owner": self.pick((self.rep,) + self.team) if self.team else self.rep,
                "last_contact": self.as_of - timedelta(days=int(self.rng.expovariate(1 / 45))),
                "status": self.choice_key("employment", {"active": 0.9, "transferred": 0.07, "left": 0.03}),
                "note": self.pick(_NOTES) if self.chance(0.2) else None,
            })
        return rows

    def opportunities(self, initiatives: list[dict], contacts: list[dict]) -> list[dict]:
        n = _size(self.rng, 10, 60, 18, self.spec.table("Opportunities").rows)
        stages = self.spec.choices("stage")
        inits = [r["initiative"] for r in initiatives]
        # most initiatives get an opportunity; a few stay without one (I-INITIATIVE-NO-OPP)
        linked = [x for x in inits if self.chance(0.85)] or inits[:1]
        key_people = [c["name"] for c in contacts if c["role"] in ("decision_maker", "champion")] or \
            [c["name"] for c in contacts]
        depts = sorted({c["department"] for c in contacts if c["department"] != "経営層"}) or list(_DEPARTMENTS[:3])
        fy_start, fy_end = self.fy.start, self.fy.end - timedelta(days=1)
        rows, names = [], set()
        for i in range(n):
            init = linked[i] if i < len(linked) else (self.pick(linked) if self.chance(0.7) else None)
            sols = [s for s in _SOLUTIONS if init and init in s[2]] or list(_SOLUTIONS)
            sol = self.pick(sols)[0]
            self.products.append(sol)
            dept = self.pick(depts)
            name = self.pick(_OPP_PATTERNS).format(dept=dept, sol=sol, init=init or "業務改善", plant=self.pick(_PLANTS))
            while name in names:
                name = f"{name}（{self.pick(_PLANTS)}）"
            names.add(name)
            stage = _weighted(self.rng, stages.keys(),
                              [{"hypothesis": 3, "proposal": 4, "negotiation": 2.5, "verbal": 1,
                                "won": 1, "lost": 0.6}.get(k, 1) for k in stages.keys()])
            closed = stage in ("won", "lost")
            if closed:
                close = self.day_between(fy_start - timedelta(days=60), self.as_of - timedelta(days=1))
            elif self.chance(0.03):  # slipped: past its date and still open (W-OPP-STALE)
                close = self.day_between(self.as_of - timedelta(days=45), self.as_of - timedelta(days=1))
            else:
                close = self.day_between(self.as_of + timedelta(days=7), fy_end + timedelta(days=90))
            recurring = self.choice_key("recurring", {"recurring": 0.4, "one_off": 0.6})
            default_p = stages.get(stage).probability
            rows.append({
                "opp_id": f"O{i + 1:03d}", "opportunity": name, "department": dept, "initiative": init,
                "solution": solution_key(self.spec, sol), "amount": self.amount(1e6, 1.5e8),
                "probability": (None if self.chance(0.5) or default_p is None
                                else max(0, min(100, default_p + self.rng.choice((-10, -5, 0, 5, 10))))),
                "stage": stage, "expected_close": close, "recurring": recurring,
                "contract_years": self.rng.randint(1, 5) if recurring == "recurring" else None,
                "key_person": self.pick(key_people) if self.chance(0.85) else None,
                "next_step": None if closed else self.pick(_NEXT_STEPS),
                "note": self.pick(_NOTES) if self.chance(0.25) else None,
            })
        return rows

    def activities(self, contacts: list[dict], opps: list[dict]) -> list[dict]:
        n = _size(self.rng, 5, 50, 12, self.spec.table("Activities").rows)
        lo, hi = self.period.start - timedelta(days=30), self.period.end + timedelta(days=30)
        people = [c for c in contacts if c["status"] != "left"] or contacts
        # cover the decision makers first, as a good plan does
        dms = [c for c in people if c["role"] == "decision_maker"]
        rows = []
        for i in range(n):
            c = dms[i] if i < len(dms) and self.chance(0.8) else self.pick(people)
            d = self.day_between(lo, hi)
            past = d < self.as_of
            status = (_weighted(self.rng, ("done", "postponed", "cancelled"), (0.85, 0.1, 0.05)) if past
                      else "planned")
            if past:
                appointment = "confirmed"
            elif (d - self.as_of).days <= self.settings.thresholds.appointment_lead_days:
                appointment = _weighted(self.rng, ("confirmed", "requested", "not_requested"), (0.6, 0.3, 0.1))
            else:
                appointment = _weighted(self.rng, ("confirmed", "requested", "not_requested"), (0.2, 0.3, 0.5))
            exec_visit = c["title"] in {t for t, lv in _TITLES if lv == 0} or self.chance(0.1)
            rows.append({
                "act_id": f"A{i + 1:03d}", "planned_date": d, "contact": c["name"],
                "purpose": "役員面談" if exec_visit and self.chance(0.5) else self.pick(_PURPOSES),
                "related_opp": self.pick(opps)["opportunity"] if opps and self.chance(0.6) else None,
                "our_attendees": "、".join(self.rng.sample((self.rep,) + self.team,
                                                           self.rng.randint(1, 1 + len(self.team)))),
                "executive": self.pick(_OUR_EXECUTIVES) if exec_visit else None,
                "appointment": appointment, "status": status,
                "done_date": d if status == "done" else None,
                "result": self.pick(_RESULTS) if status == "done" else None,
            })
        return rows

    def financials(self) -> list[dict]:
        n = self.rng.randint(3, min(5, self.spec.table("Financials").rows))
        rev = self.amount(3e10, 8e11, 100_000_000)
        rows = []
        for k in range(n):
            fy = self.fy.fiscal_year - n + k
            margin = self.rng.uniform(0.02, 0.12)
            rows.append({"fiscal_year": f"FY{fy}", "revenue": rev, "operating_profit": _round_to(rev * margin, 100_000_000),
                         "note": self.pick(("増収増益", "増収減益", "減収増益", "減収減益", None, None))})
            rev = _round_to(rev * self.rng.uniform(0.93, 1.12), 100_000_000)
        return rows

    def our_business(self, opps: list[dict]) -> list[dict]:
        n = self.rng.randint(2, min(3, self.spec.table("OurBusiness").rows))
        sols = sorted(set(self.products)) or [s[0] for s in _SOLUTIONS[:2]]
        return [{"fiscal_year": f"FY{self.fy.fiscal_year - n + k}", "our_revenue": self.amount(5e6, 5e8),
                 "products": "、".join(self.rng.sample(sols, min(len(sols), self.rng.randint(1, 3))))}
                for k in range(n)]

    def prefilled_rows(self, table: Table) -> list[dict]:
        """Rows of a table the generator prefills (criteria, KPIs): one per choice of its list."""
        col = table.column(table.prefill["column"])
        if not col.choices:
            return []
        rows = []
        for key in self.spec.choices(col.choices).keys():
            row: dict[str, Any] = {col.key: key}
            for c in table.input_columns:
                if c.key == "target":
                    row[c.key] = self.rng.randint(2, 12)
                elif c.key == "actual":
                    row[c.key] = self.rng.randint(0, row.get("target", 10) + 3) if self.chance(0.8) else None
                elif c.key == "rationale":
                    row[c.key] = self.pick(_RATIONALES)
                elif c.key != col.key:
                    row[c.key] = self.generic(c)
            rows.append(row)
        return rows

    def reviews(self) -> list[dict]:
        n = self.rng.choice((0, 1, 2, 2, 3, 4, 6))
        rows = []
        for _ in range(n):
            d = self.day_between(self.period.start - timedelta(days=90), self.as_of)
            due = d + timedelta(days=self.rng.randint(14, 60))
            rows.append({"review_date": d, "item": self.pick(_REVIEW_ITEMS), "plan": "月2回訪問",
                         "actual": self.pick(("月1回", "未実施", "計画どおり")), "cause": self.pick(_CAUSES),
                         "action": self.pick(_ACTIONS), "owner": self.pick((self.rep,) + self.team),
                         "due": due, "done": "yes" if due < self.as_of and self.chance(0.7) else "no"})
        return rows

    def success_cases(self, initiatives: list[dict], opps: list[dict]) -> list[dict]:
        n = _weighted(self.rng, (0, 1, 2, 3), (0.3, 0.35, 0.25, 0.1))
        rows = []
        by_name = {x[0]: x for x in _INITIATIVES}
        for i in range(n):
            init = by_name[self.pick(initiatives)["initiative"]] if initiatives else self.pick(_INITIATIVES)
            name, dept, _area, _hyp, challenge, value = init
            sol, products, _ = self.pick([s for s in _SOLUTIONS if name in s[2]] or list(_SOLUTIONS))
            fill = {"pct": self.rng.choice((10, 15, 20, 25, 30, 40)), "days": self.rng.randint(3, 8),
                    "months": self.rng.choice((3, 6, 12))}
            anonymous = self.chance(0.5)
            rows.append({
                "case_id": f"S{i + 1:02d}", "title": f"{name}に向けた{sol}の導入",
                "customer": f"大手{self.industry_label()}{'ABCDEFG'[i]}社" if anonymous else self.account.name,
                "industry": self.industry_key, "department": dept, "challenge": challenge,
                "solution": f"{sol}を導入し、{dept}の業務プロセスを見直した", "value": value.format(**fill),
                "products": products, "amount": self.amount(5e6, 2e8),
                "closed_date": self.day_between(self.period.start - timedelta(days=365), self.as_of),
                "success_factors": self.pick(_FACTORS), "reusable_for": f"{self.industry_label()}の{dept}",
                "shareable": _weighted(self.rng, self.spec.choices("shareable").keys(), (0.7, 0.2, 0.1)),
                "author": self.rep,
            })
        return rows

    @property
    def industry_key(self) -> str:
        keys = self.spec.choices("industry").keys()
        if self.account.industry in keys:
            return self.account.industry
        return keys[zlib.crc32(self.account.name.encode("utf-8")) % len(keys)]

    def industry_label(self) -> str:
        return self.spec.choices("industry").get(self.industry_key).label("ja")

    def coverage(self) -> float:
        """The pipeline / target ratio of this plan: 3-5x for most, more for a few
        optimists, below 3x when the plan has the ``low_coverage`` mistake."""
        if "low_coverage" in self.mistakes:
            return self.rng.uniform(1.3, 2.5)
        return _weighted(self.rng, (self.rng.uniform(3.05, 5.0), self.rng.uniform(5.1, 7.0)), (0.9, 0.1))

    def in_period(self, o: dict) -> bool:
        """Does the opportunity count in the coverage (live, closing in the plan period)?"""
        return (o["stage"] != self.spec.the("stage", "lost") and o["expected_close"] is not None
                and self.period.contains(o["expected_close"]))

    def ensure_in_period(self, opps: list[dict]) -> None:
        """At least one open opportunity closes in the plan period (the coverage counts those)."""
        if any(self.in_period(o) for o in opps):
            return
        open_ = [o for o in opps if o["stage"] not in self.spec.meaning("stage", "closed")]
        if open_:
            first = max(self.as_of + timedelta(days=7), self.period.start)
            last = max(first, self.period.end - timedelta(days=1))
            self.pick(open_)["expected_close"] = self.day_between(first, last)

    def fit_pipeline(self, opps: list[dict], target: int) -> None:
        """Scale the in-period pipeline so that it covers ``target`` as :meth:`coverage` says."""
        ratio = self.coverage()
        live = [o for o in opps if self.in_period(o)]
        total = sum(o["amount"] for o in live)
        if not live or total <= 0:
            return
        factor = target * ratio / total
        for o in live:
            o["amount"] = _round_to(o["amount"] * factor, 10_000)
        # rounding must not carry the ratio across the 3x line either way
        total = sum(o["amount"] for o in live)
        low = self.settings.thresholds.coverage_low
        biggest = max(live, key=lambda o: o["amount"])
        if ratio >= low > total / target:
            biggest["amount"] += int(low * target - total) + 10_000
        elif ratio < low <= total / target:
            biggest["amount"] = max(10_000, biggest["amount"] - (total - int(low * target)) - 10_000)

    def fields(self, in_period: int, target: int | None = None) -> dict[str, Any]:
        if target is None:  # the target follows the in-period pipeline, rounded down (the ratio only grows)
            step = 100_000
            target = max(step, int(in_period / self.coverage()) // step * step)
        plan_date = max(self.period.start - timedelta(days=14), self.as_of - timedelta(days=self.rng.randint(0, 10)))
        business, products = _BUSINESS.get(self.industry_key) or self.pick(sorted(_BUSINESS.values()))
        return {
            "account_name": self.account.name, "account_id": self.account.account_id, "rep": self.rep,
            "team_members": "、".join(self.team) or None, "period": str(self.period),
            "plan_date": plan_date, "aps_date": plan_date + timedelta(days=self.rng.randint(3, 14)) if self.chance(0.7) else None,
            "amount_unit": self.spec.field("amount_unit").default or self.spec.choices("amount_unit").keys()[0],
            "industry": self.industry_key, "headquarters": self.pick(_HQ),
            "employees": _round_to(math.exp(self.rng.uniform(math.log(800), math.log(60000))), 10),
            "fiscal_year_end_month": _weighted(self.rng, (3, 12, 9, 6), (0.75, 0.15, 0.05, 0.05)),
            "main_business": business, "main_products": products,
            "main_customers": "、".join(self.rng.sample(_CUSTOMERS, 2)),
            "competitors": f"{self.pick(_NAME_HEADS)}{self.pick(_NAME_TAILS)[0]}、{self.pick(_NAME_HEADS)}{self.pick(_NAME_TAILS)[0]}",
            "our_competitors": "、".join(self.rng.sample(_COMPETITORS, 2)),
            "business_situation": self.pick(_SITUATIONS),
            "corporate_strategy": self.pick(_STRATEGIES).format(rev=self.rng.randint(5, 60) * 100,
                                                                inv=self.rng.randint(1, 20) * 10),
            "strategy_source": self.pick(_SOURCES),
            "sales_target": target,
            "target_period": None,
            "org_updated": self.as_of - timedelta(days=int(self.rng.expovariate(1 / 40))),
        }

    # -- generic values for fields this module has no vocabulary for --------------------------
    def generic(self, f: Field) -> Any:
        t = f.type
        if t == "choice" and f.choices:
            return self.choice_key(f.choices)
        if t == "amount":
            return self.amount(1e6, 1e8)
        if t in ("integer", "number"):
            return self.rng.randint(1, 100)
        if t == "percent":
            return float(self.rng.randint(0, 100))
        if t == "date":
            return self.day_between(self.period.start, self.period.end - timedelta(days=1))
        if t == "month":
            return self.rng.randint(1, 12)
        if t == "rating":
            return self.rng.randint(1, 5)
        if t == "period":
            return str(self.period)
        return self.pick(_NOTES)

    # -- messiness ---------------------------------------------------------------------------
    def messy_value(self, f: Field, v: Any) -> Any:
        """``v`` as a person might type it (the same value once normalised), or ``v``."""
        if v is None or not self.chance(self.messy):
            return v
        t, r = f.type, self.rng
        if t == "amount" and isinstance(v, int) and v > 0:
            forms = [f"¥{v:,}", f"{v:,}円"]
            if v % 10_000 == 0:
                man = v // 10_000
                forms += [f"{man:,}万", f"{man:,}万円", _fullwidth(f"{man:,}") + "万"]
            if v % 10_000_000 == 0 and v >= 100_000_000:
                forms.append(f"{v / 100_000_000:g}億")
            return r.choice(forms)
        if t == "date" and isinstance(v, date):
            y, m, d = v.year, v.month, v.day
            forms = [f"{y}/{m}/{d}", f"{y}-{m:02d}-{d:02d}", f"{y}年{m}月{d}日"]
            if y >= 2019:
                ry, _, _ = _reiwa(v)
                forms += [f"令和{ry}年{m}月{d}日", f"R{ry}.{m}.{d}"]
            if self.fy.contains(v):
                forms.append(f"{m}月{d}日")
            return r.choice(forms)
        if t == "percent" and isinstance(v, (int, float)):
            p = int(v) if float(v).is_integer() else v
            forms = [f"{p}%", _fullwidth(f"{p}") + "％"]
            if 0 < v < 100:
                forms.append(f"{v / 100:g}")
            return r.choice(forms)
        if t == "integer" and isinstance(v, int):
            return r.choice([f"{v:,}人", f"約{v:,}名", _fullwidth(str(v))])
        if t == "month" and isinstance(v, int):
            return r.choice([f"{v}月", _fullwidth(str(v)) + "月"])
        if t == "rating" and isinstance(v, int):
            return r.choice(["★" * v, f"{v}点"])
        if t == "choice" and f.choices and isinstance(v, str):
            return self.messy_choice(f.choices, v)
        if t in ("text", "longtext") and isinstance(v, str):
            return r.choice([f" {v} ", f"{v}\u3000", f"\u3000{v}"])
        return v

    def placeholder(self, f: Field, v: Any) -> Any:
        """Now and then an optional value the rep has not decided yet: ``TBD``, ``未定``, ``-``."""
        if v is None or f.required or f.type == "id" or not self.chance(self.messy * 0.05):
            return v
        return self.pick(_PLACEHOLDERS)

    def messy_choice(self, list_name: str, key: str) -> str:
        try:
            c = self.spec.choices(list_name).get(key)
        except KeyError:  # already typed by hand (a deliberate mistake)
            return key
        other = "en" if self.lang == "ja" else "ja"
        forms = [c.label(other), f" {c.label(self.lang)} "] + list(c.aliases)
        return self.rng.choice(forms)


def _rows(table: Table, dicts: list[dict]) -> list[Row]:
    return [Row(values=d, sheet="", row=0, index=i + 1) for i, d in enumerate(dicts)]


def make_plan(rng: random.Random, spec: Spec, settings: Settings, *, account: Account | str, rep: str,
              period: Period | str, messy: float = 0.1, lang: str = "ja", team: Sequence[str] = (),
              as_of: date | None = None, mistakes: Iterable[str] | None = None,
              target: int | None = None) -> PlanData:
    """A realistic filled plan for ``account`` by ``rep``, as the rep typed it.

    ``spec`` should be ``settings.apply(load_spec())``.  ``messy`` (0-1) is the share of
    values typed the way people type, and the chance of each of :data:`MISTAKES`
    (``mistakes`` forces exactly those).  ``as_of`` is the day the rep writes the plan
    (default: two weeks into the period): activities before it are done, after it
    planned.  Values follow :mod:`xltools.model` (amounts in yen, choice keys, dates);
    messy ones are the strings a rep would type.  ``target`` (yen): the sales target ops
    set in the roster; the pipeline is sized to cover it (default: the target follows the
    pipeline).  The same ``rng`` state gives the same plan.
    """
    return make_plan_pair(rng, spec, settings, account=account, rep=rep, period=period, messy=messy,
                          lang=lang, team=team, as_of=as_of, mistakes=mistakes, target=target)[1]


def make_plan_pair(rng: random.Random, spec: Spec, settings: Settings, *, account: Account | str, rep: str,
                   period: Period | str, messy: float = 0.1, lang: str = "ja", team: Sequence[str] = (),
                   as_of: date | None = None, mistakes: Iterable[str] | None = None,
                   target: int | None = None) -> tuple[PlanData, PlanData]:
    """``(clean, typed)``: the plan as :func:`make_plan` types it, and the values a correct
    reader must get back from it (messy forms resolved, placeholders empty, deliberate
    mistakes left as typed)."""
    if not 0 <= messy <= 1:
        raise XltoolsError(f"messy must be between 0 and 1, got {messy!r}")
    if lang not in ("ja", "en"):
        raise XltoolsError(f"lang must be 'ja' or 'en', got {lang!r}")
    if target is not None and (not isinstance(target, int) or target <= 0):
        raise XltoolsError(f"target must be a positive amount in yen, got {target!r}")
    if isinstance(account, str):
        account = Account(name=account, account_id="")
    if isinstance(period, str):
        period = parse_period(period, settings.fiscal_year_start_month)
    if mistakes is None:
        chosen = {m for m in MISTAKES if rng.random() < messy}
    else:
        chosen = set(mistakes)
        unknown = chosen - set(MISTAKES)
        if unknown:
            raise XltoolsError(f"unknown corpus mistake(s) {sorted(unknown)}; known: {sorted(MISTAKES)}")
    m = _Maker(rng, spec, settings, account=account, rep=rep, team=team, period=period, lang=lang,
               messy=messy, as_of=as_of or (period.start + timedelta(days=14)), mistakes=chosen)

    initiatives = m.initiatives()
    contacts = m.contacts()
    opps = m.opportunities(initiatives, contacts)
    m.ensure_in_period(opps)
    if target is not None:
        m.fit_pipeline(opps, target)
    activities = m.activities(contacts, opps)
    in_period = sum(o["amount"] for o in opps if m.in_period(o))
    tables: dict[str, list[dict]] = {
        "Initiatives": initiatives, "Contacts": contacts, "Opportunities": opps, "Activities": activities,
        "Financials": m.financials(), "OurBusiness": m.our_business(opps), "Reviews": m.reviews(),
        "SuccessCases": m.success_cases(initiatives, opps),
    }
    for t in spec.tables:  # prefilled tables (criteria, KPIs) are found through the spec
        if t.prefill and t.name not in tables:
            tables[t.name] = m.prefilled_rows(t)
    fields = m.fields(in_period, target)

    # the deliberate mistakes
    if "missing_required" in chosen and opps:
        m.pick(opps)["amount"] = None
    if "unknown_contact" in chosen and activities:
        stranger = m.person({c["name"] for c in contacts})
        m.pick(activities)["contact"] = stranger
    if "bad_choice" in chosen and contacts:
        c = m.pick(contacts)
        c["stance"] = m.spec.choices("stance").get(c["stance"]).label(lang) + m.pick(_TYPO_SUFFIX)
    odd_note = not (m.messy == 0 or not m.chance(min(1.0, m.messy * 3)))

    # one spec-driven pass: every input field/column gets its value (a generic one when this
    # module has no vocabulary for it), then the way the rep types it; computed and locked
    # columns are the workbook's business
    def typed(f: Field, v: Any) -> tuple[Any, Any]:
        if isinstance(v, str) and f.choices and v not in m.spec.choices(f.choices).keys():
            return v, v  # a deliberate typo stays as it is
        p = m.placeholder(f, v)
        if p is not v:
            return None, p
        return v, m.messy_value(f, v)

    clean_fields: dict[str, Any] = {}
    typed_fields: dict[str, Any] = {}
    for f in spec.input_fields:
        v = fields[f.key] if f.key in fields else m.generic(f)
        if f.key in ("period", "amount_unit", "account_name", "rep"):  # what identifies the plan
            clean_fields[f.key] = typed_fields[f.key] = v
        else:
            clean_fields[f.key], typed_fields[f.key] = typed(f, v)
    clean_tables: dict[str, list[Row]] = {}
    typed_tables: dict[str, list[Row]] = {}
    for t in spec.tables:
        clean_rows, typed_rows = [], []
        prefilled = t.prefill.get("column") if t.prefill else None
        for d in tables.get(t.name, []):
            cv: dict[str, Any] = {}
            tv: dict[str, Any] = {}
            for c in t.columns:
                if c.computed or (c.locked and c.key not in d):
                    continue
                v = d[c.key] if c.key in d else m.generic(c)
                if c.key == prefilled or c.locked:  # the criterion / KPI of a prefilled row
                    cv[c.key] = tv[c.key] = v
                else:
                    cv[c.key], tv[c.key] = typed(c, v)
            clean_rows.append(cv)
            typed_rows.append(tv)
        # a rep who starts a note with "=" (it must stay text all the way to the roll-up)
        if odd_note and typed_rows and any(c.key == "note" and c.is_input for c in t.columns):
            i = m.rng.randrange(len(typed_rows))
            clean_rows[i]["note"] = typed_rows[i]["note"] = m.pick(_FORMULA_LIKE)
            odd_note = False
        clean_tables[t.name] = _rows(t, clean_rows)
        typed_tables[t.name] = _rows(t, typed_rows)

    meta = {"template": spec.template, "template_version": spec.version, "account_id": account.account_id,
            "account_name": account.name, "rep": rep, "period": str(period), "language": lang}
    return (PlanData(meta=dict(meta), fields=clean_fields, tables=clean_tables),
            PlanData(meta=meta, fields=typed_fields, tables=typed_tables))


def advance_plan(rng: random.Random, plan: PlanData, spec: Spec, *, as_of: date) -> PlanData:
    """The same plan a month later, as its rep updates it: some opportunities move on a
    stage (a few are won or lost), one to three new ones appear, activities whose day has
    passed are done, an unknown key person's stance becomes known, the plan date moves.
    Values the rep typed in a messy way are left alone.  ``plan`` is not modified."""
    stages = spec.choices("stage").keys()
    ladder = [k for k in ("hypothesis", "proposal", "negotiation", "verbal", "won") if k in stages]
    tables = {name: [Row(values=dict(r.values), sheet=r.sheet, row=r.row, index=r.index) for r in rows]
              for name, rows in plan.tables.items()}
    fields = dict(plan.fields)
    opps = tables.get("Opportunities", [])
    for r in opps:
        stage = r.values.get("stage")
        if stage in ladder[:-1] and rng.random() < 0.35:
            if stage == "negotiation" and "lost" in stages and rng.random() < 0.15:
                r.values["stage"] = "lost"
            else:
                r.values["stage"] = ladder[ladder.index(stage) + 1]
            if r.values["stage"] in ("won", "lost"):
                r.values["expected_close"] = as_of - timedelta(days=rng.randint(1, 20))
                r.values["next_step"] = None
            r.values["probability"] = None  # the new stage's default
    room = spec.table("Opportunities").rows - len(opps)
    if opps and room > 0:
        ids = {str(r.values.get("opp_id")) for r in opps}
        for k in range(min(room, rng.randint(1, 3))):
            new = dict(rng.choice(opps).values)
            n = len(opps) + 1
            while f"O{n:03d}" in ids:
                n += 1
            ids.add(f"O{n:03d}")
            sol = rng.choice(_SOLUTIONS)[0]
            new.update(opp_id=f"O{n:03d}", opportunity=f"{sol}新規提案（{as_of.month}月）",
                       solution=solution_key(spec, sol),
                       stage=ladder[0], probability=None, note=None,
                       expected_close=as_of + timedelta(days=rng.randint(60, 200)),
                       amount=_round_to(math.exp(rng.uniform(math.log(3e6), math.log(5e7))), 100_000))
            opps.append(Row(values=new, sheet="", row=0, index=len(opps) + 1))
    for r in tables.get("Activities", []):
        d = r.values.get("planned_date")
        if isinstance(d, date) and d < as_of and r.values.get("status") == "planned":
            r.values.update(status="done", done_date=d, appointment="confirmed", result=rng.choice(_RESULTS))
    unknown = [r for r in tables.get("Contacts", []) if r.values.get("stance") == "unknown"]
    for r in rng.sample(unknown, min(len(unknown), rng.randint(1, 2))):
        r.values["stance"] = rng.choice(("neutral", "favourable"))
    if isinstance(fields.get("plan_date"), date):
        fields["plan_date"] = as_of
    if rng.random() < 0.5 and "org_updated" in fields:
        fields["org_updated"] = as_of
    return PlanData(meta=dict(plan.meta), fields=fields, tables=tables, file=plan.file)


# -- many plans ---------------------------------------------------------------------------------

def corpus_entries(n: int, *, seed: int = 0, period: str = "FY2026Q3", en_share: float = 0.15,
                   per_rep: int | None = None, langs: Sequence[str] | None = None) -> list[CorpusEntry]:
    """The roster of a corpus of ``n`` plans: reps with 4-12 accounts each (exactly
    ``per_rep`` when given), one plan per account.  A rep works in English with the chance
    ``en_share``, or in the languages ``langs`` in turn (one per rep) when given."""
    if n < 0:
        raise XltoolsError(f"the number of plans must not be negative, got {n}")
    if per_rep is not None and per_rep < 1:
        raise XltoolsError(f"accounts per rep must be 1 or more, got {per_rep}")
    if langs is not None and (not langs or set(langs) - {"ja", "en"}):
        raise XltoolsError(f"languages must be ja or en, got {list(langs)!r}")
    rng = random.Random(f"xltools-corpus-roster:{seed}")
    names: set[str] = set()
    accounts: list[Account] = []
    while len(accounts) < n:
        tail, ind = rng.choice(_NAME_TAILS)
        base = rng.choice(_NAME_HEADS) + tail
        if len(names) > len(_NAME_HEADS) * len(_NAME_TAILS) // 2 or rng.random() < 0.1:
            base = rng.choice(_PLACES) + base
        name = rng.choice(_FORMS).format(base)
        core = name.replace("株式会社", "").replace("ホールディングス", "")
        if core in names:
            if len(names) >= len(_NAME_HEADS) * len(_NAME_TAILS) * len(_PLACES) // 2:
                name = f"{name}（{len(accounts) + 1}）"
            else:
                continue
        names.add(core)
        accounts.append(Account(name=name, account_id=f"C{len(accounts) + 1:06d}", industry=ind))
    entries: list[CorpusEntry] = []
    taken: set[str] = set()
    i = 0
    while i < n:
        for _ in range(500):
            rep = f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"
            if rep not in taken:
                break
        else:
            rep = f"{rep}{len(taken)}"
        lang = "en" if rng.random() < en_share else "ja"
        if langs is not None:
            lang = langs[len(taken) % len(langs)]
        taken.add(rep)
        team = tuple(rng.sample(_OUR_STAFF, rng.randint(0, 3)))
        for _ in range(per_rep or rng.randint(4, 12)):
            if i >= n:
                break
            target = _round_to(math.exp(rng.uniform(math.log(1e7), math.log(3e8))), 1_000_000)
            entries.append(CorpusEntry(index=i, account=accounts[i], rep=rep, team=team, lang=lang, period=period,
                                       target=target))
            i += 1
    return entries


def entry_rng(seed: int, index: int) -> random.Random:
    """The random generator of plan ``index``: independent of the order plans are made in."""
    return random.Random(f"xltools-corpus:{seed}:{index}")


def make_entry_plan(entry: CorpusEntry, spec: Spec, settings: Settings, *, seed: int = 0, messy: float = 0.1,
                    as_of: date | None = None) -> PlanData:
    return make_plan(entry_rng(seed, entry.index), spec, settings, account=entry.account, rep=entry.rep,
                     period=entry.period, messy=messy, lang=entry.lang, team=entry.team, as_of=as_of,
                     target=entry.target)


def entry_info(entry: CorpusEntry, *, seed: int = 0, as_of: date | None = None):
    """The generator's :class:`~xltools.generate.PlanInfo` of an entry: a plan id and
    a generation time that depend only on the seed and the entry (reproducible files)."""
    from .generate import PlanInfo

    rng = random.Random(f"xltools-corpus-plan-id:{seed}:{entry.index}")
    when = as_of or (parse_period(entry.period).start + timedelta(days=7))
    return PlanInfo(account_name=entry.account.name, rep=entry.rep, period=entry.period,
                    account_id=entry.account.account_id, lang=entry.lang, target=entry.target,
                    team_members="、".join(entry.team) or None,
                    plan_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    generated_at=datetime.combine(when, time(9, 0)))


#: per-process state of corpus workers: spec, settings and the job's options
_WORKER: dict[str, Any] = {}


def _init_worker(spec: Spec, settings: Settings, out_dir: str, seed: int, messy: float,
                 as_of: date | None) -> None:
    _WORKER.update(spec=spec, settings=settings, out_dir=Path(out_dir), seed=seed, messy=messy, as_of=as_of)


def _write_entries(entries: list[CorpusEntry]) -> list[str]:
    from .generate import generate_workbook

    w = _WORKER
    out = []
    for e in entries:
        plan = make_entry_plan(e, w["spec"], w["settings"], seed=w["seed"], messy=w["messy"], as_of=w["as_of"])
        path = w["out_dir"] / e.filename
        generate_workbook(w["spec"], w["settings"], entry_info(e, seed=w["seed"], as_of=w["as_of"]), path,
                          prefill=plan)
        out.append(str(path))
    return out


def write_entries(out_dir: str | os.PathLike, entries: Sequence[CorpusEntry], *, seed: int = 0,
                  jobs: int | None = None, messy: float = 0.1, as_of: date | None = None,
                  settings: Settings | None = None, spec: Spec | None = None) -> list[Path]:
    """Write the plans of ``entries`` into ``out_dir`` (created if missing) on ``jobs``
    processes (default: every core); the paths in the order of ``entries``."""
    from .spec import load_spec

    settings = settings or Settings()
    spec = settings.apply(spec or load_spec())
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise XltoolsError(f"{out}: cannot create the corpus folder ({e.strerror})") from None
    entries = list(entries)
    jobs = max(1, jobs or os.cpu_count() or 1)
    args = (spec, settings, str(out), seed, messy, as_of)
    if jobs == 1 or len(entries) < 2 * jobs:
        _init_worker(*args)
        return [Path(p) for p in _write_entries(entries)]
    # small chunks keep the processes evenly busy (plan sizes vary fivefold)
    size = max(1, min(50, len(entries) // (jobs * 8)))
    chunks = [entries[i:i + size] for i in range(0, len(entries), size)]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=args) as pool:
        return [Path(p) for chunk in pool.map(_write_entries, chunks) for p in chunk]


def write_corpus(out_dir: str | os.PathLike, n: int, *, seed: int = 0, jobs: int | None = None,
                 messy: float = 0.1, period: str = "FY2026Q3", as_of: date | None = None,
                 settings: Settings | None = None) -> list[Path]:
    """``n`` realistic filled plans in ``out_dir``, written by the real generator on ``jobs``
    processes.  The same ``seed`` gives the same plans whatever ``jobs`` is."""
    if not 0 <= messy <= 1:
        raise XltoolsError(f"messy must be between 0 and 1, got {messy!r}")
    return write_entries(out_dir, corpus_entries(n, seed=seed, period=period), seed=seed, jobs=jobs,
                         messy=messy, as_of=as_of, settings=settings)


def write_roster(path: str | os.PathLike, entries: Sequence[CorpusEntry], spec: Spec, *, lang: str = "ja") -> Path:
    """The roster ops would keep for ``entries`` (``.xlsx`` or ``.csv`` by the suffix), with
    the spec's labels in ``lang`` as headers: rep, account, account id, target, team, language."""
    from .roster import LANG_COLUMN, ROSTER_FIELDS, column_label

    p = Path(path)
    keys = [*ROSTER_FIELDS, LANG_COLUMN]
    header = [column_label(spec, k)(lang) for k in keys]

    def row(e: CorpusEntry) -> list[Any]:
        values = {"rep": e.rep, "account_name": e.account.name, "account_id": e.account.account_id,
                  "sales_target": e.target, "team_members": "、".join(e.team) or None, LANG_COLUMN: e.lang}
        return [values.get(k) for k in keys]

    if p.suffix.lower() == ".csv":
        import csv

        with p.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows([("" if v is None else v) for v in row(e)] for e in entries)
        return p
    from openpyxl import Workbook

    from .generate import save_atomic
    from .xlwrite import write_row

    wb = Workbook()
    ws = wb.active
    ws.title = {"ja": "名簿", "en": "Roster"}[lang]
    write_row(ws, 1, 1, header)
    for i, e in enumerate(entries, 2):
        write_row(ws, i, 1, row(e))
        ws.cell(row=i, column=keys.index("sales_target") + 1).number_format = "#,##0"
    for i, k in enumerate(keys, 1):
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = 14 if k != "account_name" else 32
    ws.freeze_panes = "A2"
    return save_atomic(wb, p)
