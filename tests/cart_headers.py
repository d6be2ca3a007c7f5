"""Cart export headers copied from each cart's published definition, for the preset tests.

Copied by hand from the sources named here (not read from crmlib/presets, so that a preset that
drifts from its cart fails the tests). Every column, in the cart's order and spelling.
"""

# EC-CUBE 4.1, 4.2 and 4.3 受注CSV: src/Eccube/Resource/doctrine/import_csv/ja/dtb_csv.csv of the
# EC-CUBE/ec-cube repository (tags 4.1.0, 4.2.3, branch 4.3), rows with csv_type_id 3 (受注CSV in
# mtb_csv_type.csv), disp_name ordered by sort_no. Exported as SJIS-win (cp932).
ECCUBE_41 = [
    '注文ID', '注文番号', '会員ID', 'お名前(姓)', 'お名前(名)', 'お名前(セイ)', 'お名前(メイ)', '会社名', '郵便番号', '都道府県(ID)',
    '都道府県(名称)', '住所1', '住所2', 'メールアドレス', 'TEL', '性別(ID)', '性別(名称)', '職業(ID)', '職業(名称)', '誕生日',
    'ショップ用メモ欄', '小計', '値引き', '送料', '税金', '合計', '支払合計', '対応状況(ID)', '対応状況(名称)', '支払方法(ID)',
    '支払方法(名称)', '受注日', '入金日', '注文詳細ID', '商品ID', '商品規格ID', '商品名', '商品コード', '規格名1', '規格名2', '規格分類名1',
    '規格分類名2', '価格', '個数', '税率', '税率ルール(ID)', '明細区分(ID)', '明細区分(名称)', '出荷ID', '配送先_お名前(姓)',
    '配送先_お名前(名)', '配送先_お名前(セイ)', '配送先_お名前(メイ)', '配送先_会社名', '配送先_郵便番号', '配送先_都道府県(ID)',
    '配送先_都道府県(名称)', '配送先_住所1', '配送先_住所2', '配送先_TEL', '配送業者(ID)', '配送業者(名称)', 'お届け時間ID',
    'お届け時間(名称)', 'お届け希望日', '送料', '発送日', '出荷伝票番号', '配達用メモ', '出荷メール送信日',
]

# EC-CUBE 4.0.4 to 4.0.6: the same file at tag 4.0.6-p4 (送料ID still present).
ECCUBE_404 = [
    '注文ID', '注文番号', '会員ID', 'お名前(姓)', 'お名前(名)', 'お名前(セイ)', 'お名前(メイ)', '会社名', '郵便番号', '都道府県(ID)',
    '都道府県(名称)', '住所1', '住所2', 'メールアドレス', 'TEL', '性別(ID)', '性別(名称)', '職業(ID)', '職業(名称)', '誕生日',
    'ショップ用メモ欄', '小計', '値引き', '送料', '税金', '合計', '支払合計', '対応状況(ID)', '対応状況(名称)', '支払方法(ID)',
    '支払方法(名称)', '受注日', '入金日', '注文詳細ID', '商品ID', '商品規格ID', '商品名', '商品コード', '規格名1', '規格名2', '規格分類名1',
    '規格分類名2', '価格', '個数', '税率', '税率ルール(ID)', '明細区分(ID)', '明細区分(名称)', '出荷ID', '配送先_お名前(姓)',
    '配送先_お名前(名)', '配送先_お名前(セイ)', '配送先_お名前(メイ)', '配送先_会社名', '配送先_郵便番号', '配送先_都道府県(ID)',
    '配送先_都道府県(名称)', '配送先_住所1', '配送先_住所2', '配送先_TEL', '配送業者(ID)', '配送業者(名称)', 'お届け時間ID',
    'お届け時間(名称)', 'お届け希望日', '送料ID', '送料', '発送日', '出荷伝票番号', '配達用メモ', '出荷メール送信日',
]

# EC-CUBE 4.0.0 to 4.0.3: src/Eccube/Resource/doctrine/import_csv/dtb_csv.csv at tag 4.0.0
# (配送ID, renamed 出荷ID in 4.0.4).
ECCUBE_400 = [
    '注文ID', '注文番号', '会員ID', 'お名前(姓)', 'お名前(名)', 'お名前(セイ)', 'お名前(メイ)', '会社名', '郵便番号', '都道府県(ID)',
    '都道府県(名称)', '住所1', '住所2', 'メールアドレス', 'TEL', '性別(ID)', '性別(名称)', '職業(ID)', '職業(名称)', '誕生日',
    'ショップ用メモ欄', '小計', '値引き', '送料', '税金', '合計', '支払合計', '対応状況(ID)', '対応状況(名称)', '支払方法(ID)',
    '支払方法(名称)', '受注日', '入金日', '注文詳細ID', '商品ID', '商品規格ID', '商品名', '商品コード', '規格名1', '規格名2', '規格分類名1',
    '規格分類名2', '価格', '個数', '税率', '税率ルール(ID)', '明細区分(ID)', '明細区分(名称)', '配送ID', '配送先_お名前(姓)',
    '配送先_お名前(名)', '配送先_お名前(セイ)', '配送先_お名前(メイ)', '配送先_会社名', '配送先_郵便番号', '配送先_都道府県(ID)',
    '配送先_都道府県(名称)', '配送先_住所1', '配送先_住所2', '配送先_TEL', '配送業者(ID)', '配送業者(名称)', 'お届け時間ID',
    'お届け時間(名称)', 'お届け希望日', '送料ID', '送料', '発送日', '出荷伝票番号', '配達用メモ', '出荷メール送信日',
]

# EC-CUBE 4.1 to 4.3 installed in English: src/Eccube/Resource/doctrine/import_csv/en/dtb_csv.csv
# (branch 4.3), the same rows; "Tracking No. " ends with a space in the seed data.
ECCUBE_41_EN = [
    'Order ID', 'Order No.', 'Customer ID', 'Your Name (Last)', 'Your Name (First)',
    'Your Name (Last / Phonetic)', 'Your Name (First / Phonetic)', 'Company Name', 'Postal Code',
    'Prefecture (ID)', 'Prefecture (Name)', 'Address 1', 'Address 2', 'Email', 'Phone',
    'Gender (ID)', 'Gender (Name)', 'Occupation (ID)', 'Occupation (Name)', 'Date of Birth',
    'Store Staff Notes', 'Subtotal', 'Discount', 'Shipping Charge', 'Tax', 'Total', 'Amount Due',
    'Order Status (ID)', 'Order Status (Name)', 'Payment Method (ID)', 'Payment Method (Name)',
    'Order Date', 'Payment Date', 'Order Detail ID', 'Product ID', 'Option Group ID',
    'Product Name', 'Product Code', 'Option 1', 'Option 2', 'Option Group 1', 'Option Group 2',
    'Price', 'Qty', 'Tax', 'Tax Rate Rule (ID)', 'Item Type (ID)', 'Item Type (Name)',
    'Delivery ID', 'Recipient Name (First)', 'Recipient Name (Last)',
    'Recipient Name (First / Phonetic)', 'Recipient Name (Last / Phonetic)',
    'Recipient Company Name', 'Recipient Postal Code', 'Recipient Prefecture (ID)',
    'Recipient Prefecture (Name)', 'Recipient Address 1', 'Recipient Address 2', 'Recipient Phone',
    'Delivery Company (ID)', 'Delivery Company (Name)', 'Delivery Time ID', 'Delivery Time (Name)',
    'Preferred Delivery Date', 'Shipping Charge', 'Shipping Date', 'Tracking No. ',
    'Delivery Notes', 'Shipping notice sent on',
]

# Shopify admin "Export orders" CSV (UTF-8) as written by 2024-2025 exports: the header of the
# exports published in public repositories (e.g. jadwro/allegro_csv_parser,
# src/Shopify/types/ShopifyOrderTypeCSV.ts, and fixtures of Go and Rust importers with the
# same 79 columns).
SHOPIFY_2024 = [
    'Name', 'Email', 'Financial Status', 'Paid at', 'Fulfillment Status', 'Fulfilled at',
    'Accepts Marketing', 'Currency', 'Subtotal', 'Shipping', 'Taxes', 'Total', 'Discount Code',
    'Discount Amount', 'Shipping Method', 'Created at', 'Lineitem quantity', 'Lineitem name',
    'Lineitem price', 'Lineitem compare at price', 'Lineitem sku', 'Lineitem requires shipping',
    'Lineitem taxable', 'Lineitem fulfillment status', 'Billing Name', 'Billing Street',
    'Billing Address1', 'Billing Address2', 'Billing Company', 'Billing City', 'Billing Zip',
    'Billing Province', 'Billing Country', 'Billing Phone', 'Shipping Name', 'Shipping Street',
    'Shipping Address1', 'Shipping Address2', 'Shipping Company', 'Shipping City', 'Shipping Zip',
    'Shipping Province', 'Shipping Country', 'Shipping Phone', 'Notes', 'Note Attributes',
    'Cancelled at', 'Payment Method', 'Payment Reference', 'Refunded Amount', 'Vendor',
    'Outstanding Balance', 'Employee', 'Location', 'Device ID', 'Id', 'Tags', 'Risk Level',
    'Source', 'Lineitem discount', 'Tax 1 Name', 'Tax 1 Value', 'Tax 2 Name', 'Tax 2 Value',
    'Tax 3 Name', 'Tax 3 Value', 'Tax 4 Name', 'Tax 4 Value', 'Tax 5 Name', 'Tax 5 Value', 'Phone',
    'Receipt Number', 'Duties', 'Billing Province Name', 'Shipping Province Name', 'Payment ID',
    'Payment Terms Name', 'Next Payment Due At', 'Payment References',
]

# UCI Machine Learning Repository, "Online Retail" (id 352): the data set's eight attributes.
ONLINE_RETAIL = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
                 "CustomerID", "Country"]
