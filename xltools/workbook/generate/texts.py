"""The names the workbook contract fixes (hidden sheets, name prefixes) and every text the
generator writes besides spec labels, in Japanese and English."""
from __future__ import annotations

from xltools.messages import Label

META_SHEET = "_meta"
LISTS_SHEET = "_lists"
LIST_NAME_PREFIX = "_list_"
SOURCE_NAME_PREFIX = "_src_"
TABLE_STYLE = "TableStyleLight15"
PROMPT_TITLE_MAX = 32
PROMPT_MAX = 255
ERROR_MAX = 225

#: every text the generator writes besides spec labels (Japanese and English)
TEXTS: dict[str, Label] = {
    "hint": Label("黄色のセルに入力してください（灰色のセルは自動計算です）。▼のセルはリストから選べます。"
               "表の行が足りないときは、表のすぐ下の行に続けて入力してください。",
               "Type in the yellow cells (grey cells are calculated). Cells with ▼ offer a list. "
               "When a table runs out of rows, keep typing in the rows just below it."),
    "guide_sheet": Label("使い方", "Guide"),
    "unit_open": Label("（金額単位：", " (amounts in "),
    "unit_close": Label("）", ")"),
    "guide_title": Label("アカウントプラン 記入ガイド", "Account plan: how to fill it in"),
    "plan_title": Label("このプラン", "This plan"),
    "purpose_title": Label("このプランの目的", "Purpose"),
    "purpose_1": Label("重点顧客ごとに四半期単位で作成するアカウントプランです。顧客の事業と戦略を理解し、"
                    "チームで顧客組織全体をカバーし、顧客の課題にソリューションで応えて売上目標を達成するための計画です。",
                    "One account plan per key account and quarter: understand the customer's business and "
                    "strategy, cover the whole customer organisation as a team, answer the customer's problems "
                    "with solutions and reach the sales target."),
    "purpose_2": Label("売上計画は目標の {low}〜{high} 倍の案件を積み上げます。リレーションマップではキーマン全員のスタンスを明らかにし、"
                    "活動プランで当社役員と顧客役員の接点をつくります。",
                    "Build a pipeline of {low} to {high} times the target. Mark the stance of every key person in "
                    "the relationship map, and plan activities that bring our executives to theirs."),
    "purpose_3": Label("プランはアカウントプランニングセッションで発表・議論し、毎月提出します。提出されたプランは会社の資産として保存され、"
                    "担当が替わっても引き継がれます。",
                    "Present and debate the plan in the Account Planning Session and submit it every month. "
                    "Submitted plans are kept as a company asset and survive a change of rep."),
    "howto_title": Label("記入のしかた", "How to fill it in"),
    "howto_1": Label("必須のシート：{sheets}。上から順に、黄色のセルに入力してください。",
                  "Required sheets: {sheets}. Work from the top and type in the yellow cells."),
    "howto_2": Label("▼が出るセルはリストから選びます。キーマン・面談相手・関連施策・関連案件は、このブックの表に入力した内容が選択肢になります。",
                  "Cells with ▼ offer a list. Key persons, contacts, initiatives and related opportunities "
                  "are picked from what you entered in this workbook's tables."),
    "howto_3": Label("金額は「{unit_label}」で選んだ単位（{units}）で入力します。",
                  "Enter amounts in the unit chosen as '{unit_label}' ({units})."),
    "howto_4": Label("日付は yyyy/mm/dd の形で入力します（例：2026/10/01）。", "Enter dates as yyyy/mm/dd (e.g. 2026/10/01)."),
    "howto_5": Label("表の行が足りないときは、表のすぐ下の行に続けて入力してください。その行も取り込まれます。",
                  "When a table runs out of rows, keep typing just below it: those rows are read too."),
    "howto_6": Label("シートは保護されています（パスワードなし）。見出しの文字、名前の定義、隠しシートは変更しないでください。"
                  "マクロは使っていません。",
                  "Sheets are protected (no password). Do not change header texts, defined names or hidden "
                  "sheets. The workbook contains no macros."),
    "legend_title": Label("色の見方", "Colour legend"),
    "legend_input": Label("入力欄", "Input cell"),
    "legend_formula": Label("自動計算（編集できません）", "Calculated (locked)"),
    "legend_required": Label("必須の項目・列（赤字・オレンジの見出し）", "Required field or column (red label, orange header)"),
    "legend_overdue": Label("期限を過ぎた日付", "Overdue date"),
    "legend_not_counted": Label("文字として入力された数値・日付やリストにない値（ブックの集計に入りません）",
                             "A number or date typed as text, or a value not in the list (the workbook's totals "
                             "leave it out)"),
    "tone_good": Label("良い状態", "Good"),
    "tone_bad": Label("要注意", "Needs attention"),
    "tone_warn": Label("確認", "Check"),
    "tone_muted": Label("未確認", "Not yet known"),
    "checklist_title": Label("記入状況チェック（自動計算）", "Completion checklist (calculated)"),
    "col_sheet": Label("シート", "Sheet"),
    "col_kind": Label("区分", "Kind"),
    "col_fields_done": Label("必須項目 入力済", "Required fields filled"),
    "col_fields_total": Label("必須項目 数", "Required fields"),
    "col_tables_done": Label("必須列がそろった表", "Tables complete"),
    "col_tables_total": Label("必須の表", "Required tables"),
    "col_status": Label("状態", "Status"),
    "required": Label("必須", "Required"),
    "optional": Label("任意", "Optional"),
    "complete": Label("完了", "Complete"),
    "incomplete": Label("未完了", "Incomplete"),
    "dv_title": Label("入力値の確認", "Check the value"),
    "dv_choice": Label("リストから選んでください。", "Pick a value from the list."),
    "dv_source": Label("一覧にない名前です。元の表に追加してから選ぶことをお勧めします。このまま入力しますか？",
                    "This name is not in the list; add it to the source table first. Keep it anyway?"),
    "dv_range": Label("{low}〜{high} の数値を入力してください。", "Enter a number from {low} to {high}."),
    "dv_number": Label("数値で入力してください。文字のまま（例：1,200万）だと読み取りはできますが、"
                    "このブックの合計や判定には入りません。このまま入力しますか？",
                    "Enter a number. Text such as '12 million' is still read by xltools, but this "
                    "workbook's totals leave it out. Keep it anyway?"),
    "dv_date": Label("日付（yyyy/mm/dd）で入力してください。文字のままだと、このブックの期間別の集計に入りません。"
                  "このまま入力しますか？",
                  "Enter a date (yyyy/mm/dd). As text it is left out of this workbook's totals by period. "
                  "Keep it anyway?"),
}

